"""One ``medcrypt-bot run`` per SQLite database file: a lock file, refused with a clear line.

Why: on SQLite the bot has no leases (``bot.app.roles`` needs PostgreSQL), so two
``run`` processes on one file would both poll Telegram (taking the poll from each other
with 409 Conflict), both run the scheduler and each allow the full rate. The second one
is refused at start instead. Only ``run`` takes the lock: ``jobs run``, ``migrate`` and
the other tools open the same file as before (SQLite's own locking serialises their
writes with the bot's).

``flock`` on ``<database>.run.lock``: the kernel drops it when the process ends, however
it ends (SIGKILL, a crash), so a stale lock file never blocks the next start. The file
holds the pid of the process that holds it, for the error message only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from medcrypt.crypto.errors import StorageError


class AlreadyRunning(StorageError):
    """Another ``medcrypt-bot run`` holds this SQLite database."""


class RunLock:
    """The held lock; :meth:`release` (or process exit) gives it up."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def lock_path(database: str) -> Path:
    return Path(f"{database}.run.lock")


def acquire(database: str) -> RunLock:
    """Take the run lock of SQLite file ``database`` or raise :class:`AlreadyRunning`."""
    path = lock_path(database)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = ""
        with contextlib.suppress(OSError, ValueError):
            other = f" (pid {int(os.pread(fd, 32, 0).decode().strip())})"
        os.close(fd)
        raise AlreadyRunning(
            f"another `medcrypt-bot run`{other} is using this SQLite database "
            f"(lock file {path}); stop it first - several replicas need PostgreSQL"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return RunLock(path, fd)
