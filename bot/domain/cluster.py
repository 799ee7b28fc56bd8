"""What ``medcrypt-bot cluster status`` and ``/metrics`` say about the replicas.

One read of the database: the replicas' heartbeats, each singleton role's lease (holder,
epoch, age, time left - by the database's clock) and the outbox backlog. SQLite has
one bot process and no leases: the view then holds the backlog only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from medcrypt.storage.db import Session
from medcrypt.storage.repos import leases, outbox, replicas
from medcrypt.storage.repos.leases import LeaseRow
from medcrypt.storage.repos.replicas import ReplicaRow

#: A replica not seen for this long is shown as gone (its heartbeat is every 1.5 s).
ALIVE_WITHIN_S = 15.0


@dataclass(frozen=True)
class ClusterView:
    replicas: list[ReplicaRow]
    leases: list[LeaseRow]
    backlog: int
    oldest: datetime | None

    def alive(self) -> list[ReplicaRow]:
        return [r for r in self.replicas if r.seen_ago_s <= ALIVE_WITHIN_S]


def read(session: Session, *, postgres: bool) -> ClusterView:
    backlog, oldest = outbox.backlog(session)
    if not postgres:
        return ClusterView([], [], backlog, oldest)
    return ClusterView(replicas.replicas(session), leases.leases(session), backlog, oldest)


def format_view(view: ClusterView, now: datetime, *, postgres: bool) -> str:
    """The operator's table (no personal data: host names, pids, roles, counts)."""
    lines: list[str] = []
    if not postgres:
        lines.append("SQLite: one bot process (a second `run` is refused); no leases")
    else:
        lines.append(f"replicas ({len(view.alive())} alive):")
        for r in view.replicas:
            state = "alive" if r.seen_ago_s <= ALIVE_WITHIN_S else "gone"
            lines.append(f"  {r.replica_id:<40} {state:<5} up {r.up_s:8.0f}s  "
                         f"seen {r.seen_ago_s:6.1f}s ago")
        lines.append("roles:")
        if not view.leases:
            lines.append("  (no role taken yet)")
        for lease in view.leases:
            held = "held" if lease.remaining_s > 0 else "free"
            lines.append(f"  {lease.role:<20} {held:<4} epoch {lease.epoch:<6} "
                         f"by {lease.holder:<40} age {lease.age_s:8.1f}s  "
                         f"left {max(0.0, lease.remaining_s):4.1f}s")
    age = 0.0 if view.oldest is None else max(0.0, (now - view.oldest).total_seconds())
    lines.append(f"outbox: {view.backlog} undelivered, oldest {age:.0f}s")
    return "\n".join(lines)
