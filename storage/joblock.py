"""One run of a job at a time, whoever starts it: the scheduler, ``jobs run``, a chat command.

Why a lock of its own and not the scheduler's lease: ``jobs run`` from a cron entry or
an admin's ``/rotate_now`` does not hold the scheduler role, and two rotations at once
would each do the whole month's work (they end in the same state through unique
constraints, but twice the writes, notices checked twice). Everyone calls
:func:`job_lock`; a second caller gets :class:`JobBusy` at once instead of waiting.

- PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a connection kept
  for the run, keyed by the job's name. The server drops it when that connection ends,
  however the process ends.
- SQLite: ``flock`` on ``<database>.job-<name>.lock`` (the kernel drops it with the
  process); an in-memory database has one process, so a process-wide lock does.

This is mutual exclusion, not fencing: a scheduler that lost its lease is stopped by
its fenced sessions (``storage.fence``), not by this lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator

from sqlalchemy import text

from medcrypt.crypto.errors import PolicyViolation
from medcrypt.storage.db import Engine, is_sqlite

_LOCAL: dict[str, threading.Lock] = {}
_LOCAL_GUARD = threading.Lock()


class JobBusy(PolicyViolation):
    """The job is running already (another process or thread holds its lock)."""

    def __init__(self, job: str) -> None:
        super().__init__(f"job {job} is already running (another run holds its lock); "
                         "try again when it has finished")
        self.job = job


def lock_key(job: str) -> int:
    """The advisory lock key of ``job``: 63 bits of SHA-256, stable across versions."""
    digest = hashlib.sha256(b"medcrypt-job:" + job.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def job_lock(engine: Engine, job: str) -> Iterator[None]:
    """Hold ``job``'s lock for the block, or raise :class:`JobBusy` at once."""
    if is_sqlite(engine):
        database = engine.url.database
        if not database or database == ":memory:":
            with _local(job):
                yield
            return
        with _file(f"{database}.job-{job}.lock", job):
            yield
        return
    key = lock_key(job)
    with engine.connect() as conn:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        conn.commit()
        if not got:
            raise JobBusy(job)
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


@contextlib.contextmanager
def _local(job: str) -> Iterator[None]:
    with _LOCAL_GUARD:
        lock = _LOCAL.setdefault(job, threading.Lock())
    if not lock.acquire(blocking=False):
        raise JobBusy(job)
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def _file(path: str, job: str) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JobBusy(job) from None
        yield
    finally:
        os.close(fd)
