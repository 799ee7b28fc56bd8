"""The readiness probe: the database's state, checked off the event loop and cached.

``/readyz`` answers from cached state only (the operator issue asks for it): a probe
that ran a query per request would let any local client load the database, and a
readiness check that hangs on a locked database tells the orchestrator nothing. Every
``monitoring.probe_interval_seconds`` :meth:`Probe.run` checks in a worker thread
that the database answers and is at the migration head this code ships, then
refreshes the metrics' database gauges (outbox backlog, audit head, break-glass
requests) from the same pass.

A check older than :data:`STALE_AFTER_INTERVALS` intervals counts as failed: a probe
thread stuck on a lock must not keep reporting the last good answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from medcrypt.bot.app.metrics import BotMetrics
from medcrypt.bot.domain import cluster
from medcrypt.bot.domain.services import Services
from medcrypt.storage import migrate
from medcrypt.storage.repos import breakglass, outbox

log = structlog.get_logger("bot.probe")

STALE_AFTER_INTERVALS = 3
#: Reasons the database is not ready (fixed words and exception class names).
NOT_CHECKED = "not_checked"
BEHIND = "migrations_behind"
STALE = "probe_stale"


@dataclass(frozen=True)
class DatabaseState:
    ok: bool
    #: Empty when ok; else :data:`NOT_CHECKED`, :data:`BEHIND`, ``unreachable:<Class>``.
    reason: str
    #: When the check finished (monotonic seconds).
    checked_at: float


class Probe:
    def __init__(self, services: Services, metrics: BotMetrics, *, interval: float,
                 monotonic: Callable[[], float] = time.monotonic,
                 holder: str | None = None) -> None:
        self._services = services
        #: This replica's lease holder id (PostgreSQL); None: no leases (SQLite).
        self.holder = holder
        self._metrics = metrics
        self.interval = interval
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._state = DatabaseState(False, NOT_CHECKED, monotonic())
        #: The revision this code ships; read once (it does not change while running).
        self._head: str | None = None

    def database(self) -> DatabaseState:
        """The last check, or not ok when it is stale (cached: no I/O)."""
        with self._lock:
            state = self._state
        if state.ok and self._monotonic() - state.checked_at > \
                STALE_AFTER_INTERVALS * self.interval:
            return DatabaseState(False, STALE, state.checked_at)
        return state

    def check(self) -> DatabaseState:
        """Check the database now (blocking: call from a worker thread)."""
        try:
            if self._head is None:
                self._head = migrate.head()
            at = migrate.current_on(self._services.engine)
            state = DatabaseState(at == self._head, "" if at == self._head else BEHIND,
                                  self._monotonic())
        except Exception as exc:  # any failure to reach it is "not ready", by class only
            state = DatabaseState(False, f"unreachable:{type(exc).__name__}",
                                  self._monotonic())
        with self._lock:
            self._state = state
        self._metrics.database_ok.set(1 if state.ok else 0)
        if state.ok:
            self._refresh_gauges()
        return state

    def _refresh_gauges(self) -> None:
        services = self._services
        try:
            with services.sessions() as session:
                backlog, oldest = outbox.backlog(session)
                requests = breakglass.status_counts(session)
                view = (cluster.read(session, postgres=True)
                        if self.holder is not None else None)
            head = services.audit.head()
        except Exception as exc:  # the gauges keep their last values; readiness decides
            log.warning("probe_gauges_failed", error=type(exc).__name__)
            return
        checkpoint = head.last_checkpoint
        self._metrics.set_state(
            now=services.clock.now(), backlog=backlog, oldest=oldest, audit_seq=head.seq,
            checkpoint_at=None if checkpoint is None else checkpoint.time,
            breakglass=requests.items())
        if view is not None:
            self._metrics.set_cluster(alive=len(view.alive()), roles=[
                (lease.role, lease.epoch, lease.age_s, lease.remaining_s > 0,
                 lease.holder == self.holder and lease.remaining_s > 0)
                for lease in view.leases],
                replicas=[(r.replica_id, r.up_s, r.seen_ago_s) for r in view.replicas],
                leases=[(lease.role, lease.holder, lease.remaining_s)
                        for lease in view.leases])

    async def run(self, stop: asyncio.Event) -> None:
        """Check every :attr:`interval` seconds until ``stop`` is set (the first check
        is the caller's, at start)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
            if stop.is_set():
                return
            before = self.database()
            after = await asyncio.to_thread(self.check)
            if after.ok != before.ok or after.reason != before.reason:
                log.info("database_readiness", ok=after.ok, reason=after.reason)
