"""The bot's Prometheus metrics: one registry per :class:`~bot.app.bot.BotApp`.

Counters come from the layers below through :class:`bot.domain.events.RelayEvents`
(this class implements it); gauges of database state (outbox backlog, audit head,
break-glass requests) are set by the readiness probe (:mod:`bot.app.probe`) from its
own thread, so a scrape never touches the database; the platform loops' state is read
from :class:`~bot.domain.health.LoopHealth` at scrape time (memory only).

A registry of its own, not prometheus-client's global one: a test process runs several
bots, and each must count only its own work.

Labels carry fixed words only (:mod:`bot.domain.events` lists them): a value outside
the vocabulary is counted as ``other`` rather than exported, so no call site can put a
phone number, chat id, pairing id, tag or token into a label by mistake. The one label
that is not a fixed word, a replica's id (``host:pid:random``, as ``cluster status``
prints it), must have exactly that shape or is exported as ``other`` too.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily

from medcrypt.bot.domain.events import (
    JOB_OUTCOMES,
    JOB_TRIGGERS,
    REFUSAL_REASONS,
    RELAYED_KINDS,
    SEND_OUTCOMES,
)
from medcrypt.bot.domain.health import LoopHealth
from medcrypt.bot.domain.messages import Platform

#: What a label outside its vocabulary is exported as.
OTHER = "other"
PLATFORMS: frozenset[str] = frozenset(p.value for p in Platform)
JOBS: frozenset[str] = frozenset({"rotation", "shred_sweep", "key_epoch"})
#: Break-glass request states (storage.models.breakglass.BREAKGLASS_STATES).
BREAKGLASS_STATES: tuple[str, ...] = ("pending", "approved", "denied", "expired")


#: A replica's id (``bot.app.roles.holder_id``): host name, pid, 8 random hex digits.
_REPLICA_ID = re.compile(r"[A-Za-z0-9._-]{1,80}:[0-9]{1,10}:[0-9a-f]{8}")


def _word(value: str, vocabulary: frozenset[str]) -> str:
    return value if value in vocabulary else OTHER


def _replica(value: str) -> str:
    return value if _REPLICA_ID.fullmatch(value) else OTHER


class _Members:
    """Who is in the cluster and who holds what - what ``cluster status`` lists - as the
    probe last read it (PostgreSQL). A collector rather than labelled gauges, so a
    replica that is gone, or a holder that changed, leaves no stale series behind."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._replicas: list[tuple[str, float, float]] = []
        self._leases: list[tuple[str, str, float]] = []

    def update(self, replicas: Iterable[tuple[str, float, float]],
               leases: Iterable[tuple[str, str, float]]) -> None:
        with self._lock:
            self._replicas, self._leases = list(replicas), list(leases)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            members, leases = self._replicas, self._leases
        seen = GaugeMetricFamily("medcrypt_replica_last_seen_seconds",
                                 "Seconds since each replica's last heartbeat, by the "
                                 "database's clock (PostgreSQL)", labels=["replica"])
        up = GaugeMetricFamily("medcrypt_replica_up_seconds",
                               "Seconds since each replica started (PostgreSQL)",
                               labels=["replica"])
        for replica, up_s, seen_s in members:
            seen.add_metric([_replica(replica)], seen_s)
            up.add_metric([_replica(replica)], up_s)
        holder = GaugeMetricFamily("medcrypt_role_holder",
                                   "1 for the replica holding each role now (no series: "
                                   "the role is free)", labels=["role", "replica"])
        left = GaugeMetricFamily("medcrypt_role_lease_remaining_seconds",
                                 "Seconds until each role's lease expires unless renewed "
                                 "(0: free)", labels=["role"])
        for role, replica, remaining in leases:
            if remaining > 0:
                holder.add_metric([role, _replica(replica)], 1.0)
            left.add_metric([role], max(0.0, remaining))
        yield from (seen, up, holder, left)


class _Loops:
    """``medcrypt_platform_loop_up`` and restarts, read from LoopHealth per scrape."""

    def __init__(self, health: LoopHealth) -> None:
        self._health = health

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("medcrypt_platform_loop_up",
                               "Whether a platform loop (polling, webhook listener) is up",
                               labels=["loop"])
        restarts = GaugeMetricFamily("medcrypt_platform_loop_restarts",
                                     "How often the supervisor restarted a platform loop",
                                     labels=["loop"])
        for name, state in sorted(self._health.snapshot().items()):
            up.add_metric([name], 1.0 if state.up else 0.0)
            restarts.add_metric([name], float(state.restarts))
        yield up
        yield restarts


class BotMetrics:
    """Implements :class:`bot.domain.events.RelayEvents`; renders ``/metrics``."""

    def __init__(self, health: LoopHealth) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._relayed = Counter("medcrypt_messages_relayed", "Tokens and files relayed",
                                ["kind"], registry=r)
        self._refused = Counter("medcrypt_messages_refused",
                                "Messages not relayed, by reason", ["reason"], registry=r)
        self._sends = Counter("medcrypt_outbox_sends",
                              "Outbox send attempts by platform and outcome "
                              "(rate_limited: the platform answered 429)",
                              ["platform", "outcome"], registry=r)
        self._jobs = Counter("medcrypt_job_runs", "Key-lifecycle job runs",
                             ["job", "trigger", "outcome"], registry=r)
        self.outbox_backlog = Gauge("medcrypt_outbox_backlog",
                                    "Outbox rows not yet delivered (pending, sending, held)",
                                    registry=r)
        self.outbox_oldest_age = Gauge("medcrypt_outbox_oldest_age_seconds",
                                       "Age of the oldest undelivered outbox row (0: none)",
                                       registry=r)
        self.audit_head_seq = Gauge("medcrypt_audit_head_seq",
                                    "Sequence number of the newest audit entry", registry=r)
        self.checkpoint_age = Gauge("medcrypt_audit_checkpoint_age_seconds",
                                    "Age of the newest signed audit checkpoint (NaN: none)",
                                    registry=r)
        self._checkpoint_failures = Counter(
            "medcrypt_audit_checkpoint_failures", "Checkpointer passes that failed (the key "
            "provider down, the database busy): the checkpoint is delayed, appends go on",
            registry=r)
        self.breakglass = Gauge("medcrypt_breakglass_requests",
                                "Break-glass requests in the database, by status",
                                ["status"], registry=r)
        self.database_ok = Gauge("medcrypt_database_ready",
                                 "1 when the last probe reached the database at the "
                                 "migration head", registry=r)
        self.ready = Gauge("medcrypt_ready", "1 when /readyz answers 200", registry=r)
        # Several replicas on PostgreSQL (ADR 0032); labels are role names only.
        self.replicas_alive = Gauge("medcrypt_replicas_alive",
                                    "Bot replicas with a heartbeat in the last 15 s "
                                    "(PostgreSQL; 1 on SQLite)", registry=r)
        self.role_epoch = Gauge("medcrypt_role_epoch", "Fencing epoch of each role's lease",
                                ["role"], registry=r)
        self.role_lease_age = Gauge("medcrypt_role_lease_age_seconds",
                                    "Seconds since the current holder took the role "
                                    "(NaN: free)", ["role"], registry=r)
        self.role_held_here = Gauge("medcrypt_role_held_here",
                                    "1 when this replica holds the role", ["role"], registry=r)
        self.replicas_alive.set(1)
        self._members = _Members()
        r.register(self._members)
        r.register(_Loops(health))
        # Every series exists from the start at 0, so rate() sees the first event.
        for kind in RELAYED_KINDS:
            self._relayed.labels(kind)
        for reason in REFUSAL_REASONS:
            self._refused.labels(reason)
        for platform in PLATFORMS:
            for outcome in SEND_OUTCOMES:
                self._sends.labels(platform, outcome)
        for job in JOBS:
            for trigger in JOB_TRIGGERS:
                for outcome in JOB_OUTCOMES:
                    self._jobs.labels(job, trigger, outcome)
        for state in BREAKGLASS_STATES:
            self.breakglass.labels(state).set(0)
        self.checkpoint_age.set(math.nan)

    # -- RelayEvents ----------------------------------------------------------------
    def relayed(self, kind: str) -> None:
        self._relayed.labels(_word(kind, RELAYED_KINDS)).inc()

    def refused(self, reason: str) -> None:
        self._refused.labels(_word(reason, REFUSAL_REASONS)).inc()

    def send_outcome(self, platform: str, outcome: str) -> None:
        self._sends.labels(_word(platform, PLATFORMS), _word(outcome, SEND_OUTCOMES)).inc()

    def job_finished(self, job: str, trigger: str, outcome: str) -> None:
        self._jobs.labels(_word(job, JOBS), _word(trigger, JOB_TRIGGERS),
                          _word(outcome, JOB_OUTCOMES)).inc()

    # -- gauges the probe sets ----------------------------------------------------------
    def checkpoint_failed(self) -> None:
        self._checkpoint_failures.inc()

    def set_state(self, *, now: datetime, backlog: int, oldest: datetime | None,
                  audit_seq: int, checkpoint_at: datetime | None,
                  breakglass: Iterable[tuple[str, int]]) -> None:
        self.outbox_backlog.set(backlog)
        self.outbox_oldest_age.set(0.0 if oldest is None
                                   else max(0.0, (now - oldest).total_seconds()))
        self.audit_head_seq.set(audit_seq)
        self.checkpoint_age.set(math.nan if checkpoint_at is None
                                else max(0.0, (now - checkpoint_at).total_seconds()))
        counts = dict.fromkeys(BREAKGLASS_STATES, 0)
        for status, count in breakglass:
            if status in counts:
                counts[status] = count
        for status, count in counts.items():
            self.breakglass.labels(status).set(count)

    def set_cluster(self, *, alive: int, roles: Iterable[tuple[str, int, float, bool, bool]],
                    replicas: Iterable[tuple[str, float, float]] = (),
                    leases: Iterable[tuple[str, str, float]] = ()) -> None:
        """``roles``: (role, epoch, age seconds, held by anyone, held by this replica);
        ``replicas``: (replica id, seconds up, seconds since seen); ``leases``: (role,
        holder's replica id, seconds left)."""
        self._members.update(replicas, leases)
        self.replicas_alive.set(alive)
        for role, epoch, age, held, mine in roles:
            self.role_epoch.labels(role).set(epoch)
            self.role_lease_age.labels(role).set(age if held else math.nan)
            self.role_held_here.labels(role).set(1 if mine else 0)

    def render(self) -> bytes:
        """The exposition text of this bot's registry (text format 0.0.4, what every
        Prometheus scrapes; served as ``CONTENT_TYPE_PLAIN_0_0_4``)."""
        return generate_latest(self.registry)
