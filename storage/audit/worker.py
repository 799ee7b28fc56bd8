"""One audit-verify worker process: walk one seq slice of ``audit_entries``.

Started by :mod:`storage.audit.parallel` as ``python -m medcrypt.storage.audit.worker
IN OUT`` (two inherited pipe descriptors), not through :mod:`multiprocessing`: a spawned
multiprocessing child re-imports the parent's ``__main__`` (the whole bot CLI, or
pytest) before it can start, and a forked child of the bot could inherit a lock held
by another thread. This module imports only the driver and the pure slice verifier (the
package's ``__init__`` loads nothing eagerly, so starting it does not pull in the log).

Protocol (pickled, over :class:`multiprocessing.connection.Connection`): the parent
sends one :class:`SliceTask`; the worker answers ``("progress", rows)`` now and then,
then ``("done", SegmentResult)`` or ``("error", message)``. The message never quotes
the driver's text (it can carry values); it names the exception type.
"""

from __future__ import annotations

import gc
import re
import signal
import sys
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import quote

from medcrypt.crypto.server.audit.entry import EntryRow
from medcrypt.crypto.server.audit.segment import SegmentResult, verify_segment

_SNAPSHOT_RE = re.compile(r"[0-9A-F]+-[0-9A-F]+(?:-[0-9]+)?\Z")
PROGRESS_EVERY = 50_000


@dataclass(frozen=True)
class SliceTask:
    """Everything a worker needs; ``target`` is a file path (SQLite) or a libpq URI."""

    dialect: str
    target: str
    sql: str
    stop_seqs: Sequence[int]
    batch_size: int
    snapshot: str | None = None
    busy_timeout_ms: int = 5000
    #: Coverage: the checkpoint interval and every checkpoint's (seq, signed time).
    interval_us: int | None = None
    checkpoint_times: Sequence[tuple[int, int]] = ()


def _sqlite_batches(task: SliceTask) -> Generator[list[Any], None, None]:
    import sqlite3

    # Read-only URI: a verifier must never write, even by a bug. The parent holds the
    # database open, so the WAL index exists and a read-only reader can use it.
    con = sqlite3.connect(f"file:{quote(task.target)}?mode=ro", uri=True, isolation_level=None)
    try:
        con.execute(f"PRAGMA busy_timeout = {int(task.busy_timeout_ms)}")
        con.execute("BEGIN")
        cursor = con.cursor()
        cursor.arraysize = task.batch_size
        cursor.execute(task.sql)
        yield from iter(cursor.fetchmany, [])
        con.execute("COMMIT")
    finally:
        con.close()


def _postgres_batches(task: SliceTask) -> Generator[list[Any], None, None]:
    import psycopg

    if task.snapshot is None or not _SNAPSHOT_RE.match(task.snapshot):
        raise ValueError("parallel verify on PostgreSQL needs the parent's exported snapshot")
    with psycopg.connect(task.target) as con:
        con.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        con.read_only = True
        # First statement of the transaction: see exactly the parent's snapshot.
        con.execute(f"SET TRANSACTION SNAPSHOT '{task.snapshot}'")
        with con.cursor(name="medcrypt_verify_slice") as cursor:
            cursor.itersize = task.batch_size
            cursor.execute(task.sql)  # compiled by SQLAlchemy in the parent
            yield from iter(lambda: cursor.fetchmany(task.batch_size), [])
        con.rollback()


def run(task: SliceTask, out: Connection) -> SegmentResult:
    """Walk the slice, reporting progress every :data:`PROGRESS_EVERY` rows."""
    reported = [0]

    def progress(rows: int) -> None:
        if rows - reported[0] >= PROGRESS_EVERY:
            reported[0] = rows
            out.send(("progress", rows))

    # A short-lived process whose walk creates no reference cycles: the cyclic collector
    # would only rescan the row tuples it allocates (a few percent of the walk).
    gc.disable()
    batches = _sqlite_batches(task) if task.dialect == "sqlite" else _postgres_batches(task)
    rows: Iterator[Sequence[EntryRow]] = batches
    try:
        return verify_segment(rows, task.stop_seqs, interval_us=task.interval_us,
                              checkpoint_times=dict(task.checkpoint_times),
                              progress=progress)
    finally:
        batches.close()


def main(argv: Sequence[str]) -> int:
    # Ctrl-C reaches the whole process group: the parent stops its workers itself, so a
    # worker must not print its own KeyboardInterrupt traceback over the admin's screen.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    source, out = Connection(int(argv[0]), writable=False), Connection(int(argv[1]),
                                                                       readable=False)
    try:
        task = source.recv()
        if not isinstance(task, SliceTask):
            out.send(("error", "the parent sent something other than a slice task"))
            return 2
        try:
            result = run(task, out)
        except Exception as exc:  # any failure is reported to the parent, by type only
            out.send(("error", f"audit verify worker failed ({type(exc).__name__})"))
            return 1
        out.send(("done", result))
        return 0
    finally:
        source.close()
        out.close()


if __name__ == "__main__":
    # Run the copy imported under its real name: the parent pickles SliceTask as
    # medcrypt.storage.audit.worker.SliceTask, which is not this __main__ module's class.
    from medcrypt.storage.audit.worker import main as _main

    raise SystemExit(_main(sys.argv[1:]))
