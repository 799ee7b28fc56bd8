"""Singleton roles for several replicas on one PostgreSQL: take, renew, and give up leases.

Every replica runs a :class:`RoleKeeper`. Every :attr:`RoleKeeper.renew_every_s` it
beats its ``replicas`` row, renews the roles it holds and tries to take the others
(``storage.repos.leases``; the database's clock decides expiry, ADR 0032). For each role
it keeps a *local deadline*: the monotonic time before the statement that granted or
renewed the lease plus the seconds the server said were left - never later than the
real expiry, whatever the two clocks say.

- :meth:`held` answers ``(holder, epoch)`` only while the local deadline is more than
  :data:`MARGIN_S` away; the fenced sessions (:meth:`sessions`) ask it at every BEGIN,
  and the database checks it again (``storage.fence``).
- A timer at ``deadline - MARGIN_S`` drops a role that was not renewed in time - a
  database that hangs, a partition - and calls ``on_change(role, False)``, so the role's
  loop stops *before* the lease can expire and another replica take it.
- :meth:`budget_s` is what a call outside the database may take: the Telegram long poll
  is bounded by it (remaining lease minus one second).
- :meth:`stop` releases what it holds, so a clean restart hands roles over at once.

A process paused past its deadline (SIGSTOP) wakes with its timers overdue: the
timers run first and drop the roles, and any write that raced them is refused by the
database's fence. On SQLite there is one ``run`` process (``bot.app.singleton``) and no
keeper: every role is this process's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from medcrypt.storage.db import Engine, SessionFactory, session_factory
from medcrypt.storage.fence import fenced_sessions
from medcrypt.storage.repos import leases, replicas

log = structlog.get_logger("bot.roles")

#: The roles a replica competes for (``storage.models.leases.ROLES`` lists them all).
POLLER = "telegram_poller"
SCHEDULER = "scheduler"
CHECKPOINTER = "audit_checkpointer"
#: Lease length and renewal period (issue 18: TTL 5 s, renewed every 1.5 s).
TTL_S = 5.0
RENEW_EVERY_S = 1.5
#: A role is given up this long before its local deadline.
MARGIN_S = 0.5
#: Every PostgreSQL connection of a bot ends a transaction left idle this long (below
#: the TTL): a paused replica cannot keep the others waiting on its row locks - the
#: lease row it was renewing among them (``storage.db.make_engine``).
IDLE_IN_TRANSACTION_S = TTL_S - RENEW_EVERY_S

OnChange = Callable[[str, bool], Coroutine[Any, Any, None]]


def holder_id() -> str:
    """``host:pid:random``: unique per process, even across a pid reused after a reboot."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass
class _Held:
    epoch: int
    deadline: float  # time.monotonic()
    timer: asyncio.TimerHandle | None = None


class RoleKeeper:
    def __init__(self, engine: Engine, roles: Sequence[str], *, holder: str | None = None,
                 ttl_s: float = TTL_S, renew_every_s: float = RENEW_EVERY_S,
                 on_change: OnChange | None = None) -> None:
        if renew_every_s * 2 + MARGIN_S >= ttl_s:
            raise ValueError("a lease must survive one missed renewal")
        self.engine = engine
        self.roles = tuple(roles)
        self.holder = holder or holder_id()
        self.ttl_s = ttl_s
        self.renew_every_s = renew_every_s
        self.on_change = on_change
        self._sessions = session_factory(engine)
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()  # held() is called from worker threads
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changes: set[asyncio.Task[None]] = set()

    # -- what the roles ask --------------------------------------------------------------

    def held(self, role: str) -> tuple[str, int] | None:
        """(holder, epoch) while ``role`` is held with more than the margin left."""
        with self._lock:
            got = self._held.get(role)
            if got is None or time.monotonic() >= got.deadline - MARGIN_S:
                return None
            return self.holder, got.epoch

    def budget_s(self, role: str) -> float:
        """Seconds a call made for ``role`` may still take (0 when not held)."""
        with self._lock:
            got = self._held.get(role)
            return 0.0 if got is None else max(0.0, got.deadline - MARGIN_S - time.monotonic())

    def sessions(self, role: str) -> SessionFactory:
        """Sessions whose every transaction is fenced by ``role``'s lease; the hook the
        key jobs and any other singleton work use."""
        idle_ms = int((self.ttl_s - self.renew_every_s) * 1000)
        return fenced_sessions(self.engine, role, lambda: self.held(role),
                               idle_timeout_ms=idle_ms)

    # -- the loop --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Beat, renew and acquire until ``stop``; then release (see :meth:`stop`)."""
        self._loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                await self.tick()
            except Exception as exc:  # a database hiccup: the deadline timers decide
                log.warning("roles_tick_failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.renew_every_s)

    async def tick(self) -> None:
        """One round: heartbeat, then each role renewed or tried."""
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self._beat)
        for role in self.roles:
            started = time.monotonic()
            current = self.held(role)
            if current is not None:
                left = await asyncio.to_thread(self._renew, role, current[1])
                if left is None:
                    self._lose(role, "lost")
                else:
                    self._keep(role, current[1], started + left)
                continue
            grant = await asyncio.to_thread(self._acquire, role)
            if grant is not None:
                self._gain(role, grant.epoch, started + grant.remaining_s)

    def _beat(self) -> None:
        host, pid, _ = self.holder.split(":", 2)
        with self._sessions.begin() as s:
            replicas.beat(s, self.holder, host, int(pid))

    def _renew(self, role: str, epoch: int) -> float | None:
        with self._sessions.begin() as s:
            return leases.renew(s, role, self.holder, epoch, self.ttl_s)

    def _acquire(self, role: str) -> leases.Grant | None:
        with self._sessions.begin() as s:
            return leases.acquire(s, role, self.holder, self.ttl_s)

    # -- local state -----------------------------------------------------------------------

    def _arm(self, role: str, got: _Held) -> None:
        if got.timer is not None:
            got.timer.cancel()
        assert self._loop is not None
        delay = max(0.0, got.deadline - MARGIN_S - time.monotonic())
        got.timer = self._loop.call_later(delay, self._expire, role, got.epoch)

    def _gain(self, role: str, epoch: int, deadline: float) -> None:
        with self._lock:
            got = self._held[role] = _Held(epoch, deadline)
        self._arm(role, got)
        log.info("role_acquired", role=role, epoch=epoch)
        self._notify(role, True)

    def _keep(self, role: str, epoch: int, deadline: float) -> None:
        with self._lock:
            got = self._held.get(role)
            if got is None or got.epoch != epoch:
                return
            got.deadline = deadline
        self._arm(role, got)

    def _expire(self, role: str, epoch: int) -> None:
        """The timer: not renewed in time, so stop before the lease can run out."""
        with self._lock:
            got = self._held.get(role)
            if got is None or got.epoch != epoch or time.monotonic() < got.deadline - MARGIN_S:
                return
        self._lose(role, "not_renewed")

    def _lose(self, role: str, reason: str) -> None:
        with self._lock:
            got = self._held.pop(role, None)
        if got is None:
            return
        if got.timer is not None:
            got.timer.cancel()
        log.warning("role_given_up", role=role, epoch=got.epoch, reason=reason)
        self._notify(role, False)

    def _notify(self, role: str, held: bool) -> None:
        if self.on_change is None or self._loop is None:
            return
        task = self._loop.create_task(self.on_change(role, held))
        self._changes.add(task)
        task.add_done_callback(self._changes.discard)

    async def stop(self) -> None:
        """Give up every role (their loops are told first) and release the leases."""
        for role in list(self._held):
            epoch = self._held[role].epoch
            self._lose(role, "stopping")
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._release, role, epoch)
        for task in list(self._changes):
            with contextlib.suppress(Exception):
                await task
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._gone)

    def _release(self, role: str, epoch: int) -> None:
        with self._sessions.begin() as s:
            leases.release(s, role, self.holder, epoch)

    def _gone(self) -> None:
        with self._sessions.begin() as s:
            replicas.gone(s, self.holder)
