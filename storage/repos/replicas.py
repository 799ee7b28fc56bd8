"""Replica heartbeats (``replicas``): who is running, as the database's clock saw it.

Each bot process upserts its own row every few seconds; ``cluster status`` lists them
with the seconds since each was last seen. Rows of processes gone for longer than
:data:`FORGET_AFTER_S` are deleted by whichever replica beats next, so the table stays
the size of the cluster. Host name and pid only: nothing about any person.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

#: A replica not seen for a day is forgotten.
FORGET_AFTER_S = 86_400.0

_BEAT = text("""
INSERT INTO replicas AS r (replica_id, host, pid, started_at, seen_at)
VALUES (:replica_id, :host, :pid, clock_timestamp(), clock_timestamp())
ON CONFLICT (replica_id) DO UPDATE SET seen_at = clock_timestamp()
""")

_FORGET = text("""
DELETE FROM replicas WHERE seen_at < clock_timestamp() - make_interval(secs => :after)
""")

_GONE = text("DELETE FROM replicas WHERE replica_id = :replica_id")

_LIST = text("""
SELECT replica_id, host, pid, EXTRACT(EPOCH FROM clock_timestamp() - started_at),
       EXTRACT(EPOCH FROM clock_timestamp() - seen_at)
  FROM replicas ORDER BY started_at, replica_id
""")


@dataclass(frozen=True, slots=True)
class ReplicaRow:
    replica_id: str
    host: str
    pid: int
    up_s: float
    seen_ago_s: float


def beat(session: Session, replica_id: str, host: str, pid: int) -> None:
    """Record that this replica is alive now; forget replicas gone for a day."""
    session.execute(_BEAT, {"replica_id": replica_id, "host": host[:128], "pid": pid})
    session.execute(_FORGET, {"after": FORGET_AFTER_S})


def gone(session: Session, replica_id: str) -> None:
    """A clean stop removes its own row."""
    session.execute(_GONE, {"replica_id": replica_id})


def replicas(session: Session) -> list[ReplicaRow]:
    return [ReplicaRow(r[0], r[1], int(r[2]), float(r[3]), float(r[4]))
            for r in session.execute(_LIST)]
