"""Leased singleton roles and replica heartbeats (several bots on one PostgreSQL).

Why a lease row and not an advisory lock (issue 18, ADR 0032): a paused process keeps
its connection and so its session lock, and a crashed host holds one until TCP
keepalive gives up. A row with an expiry written by the database's own clock ends by
itself, and ``epoch`` - bumped by every takeover - is the fencing token a holder's
writes are checked against.

``UNIQUE (role, epoch)`` is redundant as a constraint (``role`` is the key) and there
on purpose: PostgreSQL treats a column in a unique index as a key column, so a takeover
(which changes ``epoch``) takes the row's strongest lock and must wait for every
transaction that checked the lease ``FOR KEY SHARE``; a renewal (``expires_at`` only)
does not, so holders never wait on their own writers.

``replicas`` is what ``medcrypt-bot cluster status`` lists: one row per bot process
with the time it was last seen (database clock), host name and pid - no personal data.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from medcrypt.storage.base import Base

#: The singleton roles a lease may name (the key-provider jobs add theirs here).
ROLES = ("telegram_poller", "scheduler", "audit_checkpointer", "witness_sender", "key_jobs")


class RoleLease(Base):
    __tablename__ = "role_leases"
    __table_args__ = (UniqueConstraint("role", "epoch"),)

    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: ``host:pid:random`` of the process holding (or last holding) the role.
    holder: Mapped[str] = mapped_column(String(128))
    #: Fencing token: +1 at every takeover, never reused.
    epoch: Mapped[int] = mapped_column(BigInteger)
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class Replica(Base):
    __tablename__ = "replicas"

    replica_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(128))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    seen_at: Mapped[datetime] = mapped_column(index=True)
