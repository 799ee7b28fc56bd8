"""One SQLite user at a time per bot process: the relay thread and the job threads.

The relay handles a message on the event loop thread in one transaction that reads
before it writes (is this id new? who is the sender?). SQLite in WAL mode cannot upgrade
such a transaction when another connection committed a write after its first read: it
fails at once with "database is locked" (SQLITE_BUSY_SNAPSHOT; ``busy_timeout`` does
not apply). Before the bot ran jobs, every database access was on the loop thread and
nothing raced; with rotation and shredding (APScheduler's thread pool), the maintenance
loop and deferred admin commands (worker threads), writers do race.

SQLite has one writer anyway, so the bot serialises *connection use* per process: a
thread checking a connection out of the pool waits while another thread holds one. The
owning thread may check out more (the audit log reads on its own connection inside the
message's transaction), so the gate is reentrant per thread. The count is released at
check-in by the thread that acquired it, whichever thread returns the connection.
PostgreSQL, with row locks and real concurrency, is not gated.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, event

_INFO_KEY = "medcrypt_gate_owner"


class ThreadGate:
    """A reentrant, per-thread ownership count that any thread may release."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._owner: int | None = None
        self._count = 0

    def acquire(self) -> int:
        me = threading.get_ident()
        with self._cond:
            while self._owner not in (None, me):
                self._cond.wait()
            self._owner = me
            self._count += 1
        return me

    def release(self, owner: int) -> None:
        with self._cond:
            if self._owner != owner or self._count == 0:
                return  # already released (an invalidated connection checked in twice)
            self._count -= 1
            if self._count == 0:
                self._owner = None
                self._cond.notify_all()

    @property
    def held(self) -> bool:
        with self._cond:
            return self._owner is not None


def install(engine: Engine) -> ThreadGate | None:
    """Gate ``engine``'s pool when it is SQLite; returns the gate (None for PostgreSQL)."""
    if engine.dialect.name != "sqlite":
        return None
    gate = ThreadGate()

    def on_checkout(_dbapi: Any, record: Any, _proxy: Any) -> None:
        record.info[_INFO_KEY] = gate.acquire()

    def on_checkin(_dbapi: Any, record: Any) -> None:
        owner = record.info.pop(_INFO_KEY, None) if record is not None else None
        if owner is not None:
            gate.release(owner)

    event.listen(engine, "checkout", on_checkout)
    event.listen(engine, "checkin", on_checkin)
    return gate
