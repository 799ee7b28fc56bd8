"""Sessions whose every transaction first proves that this process holds a role.

A role's writes (the scheduler's jobs, the checkpointer's signatures, the poller's
intake) go through :func:`fenced_sessions`: when a transaction begins, before its first
statement, it

1. lowers ``idle_in_transaction_session_timeout`` for this transaction to below the
   lease's TTL - a holder paused mid-transaction (SIGSTOP, a GC stall, a frozen VM) is
   cut off by the server and its transaction rolled back, so the lock below cannot keep
   a takeover waiting for longer than that;
2. checks the lease row (:func:`storage.repos.leases.check_fence`): held by this
   process at its epoch and unexpired by the database's clock, locked ``FOR KEY SHARE``
   until commit, so a takeover waits for the write to finish instead of overlapping it.

If the lease is not held (lost, expired, never taken) the transaction fails with
:class:`~storage.repos.leases.LeaseLost` and writes nothing. On SQLite there is one bot
process (a lock file), so the sessions are plain ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, event

from medcrypt.storage.db import Engine, SessionFactory, is_sqlite, session_factory
from medcrypt.storage.repos.leases import LeaseLost, check_fence

#: What a fenced session asks at each BEGIN: (holder, epoch) while the role is held
#: locally, None otherwise.
HeldBy = Callable[[], tuple[str, int] | None]


def fenced_sessions(engine: Engine, role: str, held_by: HeldBy, *,
                    idle_timeout_ms: int) -> SessionFactory:
    """Sessions for ``role``'s writes, fenced by its lease at every transaction."""
    factory = session_factory(engine)
    if is_sqlite(engine):
        return factory

    def fence(_session: Any, _transaction: Any, connection: Connection) -> None:
        held = held_by()
        if held is None:
            raise LeaseLost(role)
        holder, epoch = held
        check_fence(connection, role, holder, epoch, idle_timeout_ms=idle_timeout_ms)

    event.listen(factory, "after_begin", fence)
    return factory
