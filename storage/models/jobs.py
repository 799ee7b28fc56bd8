"""Scheduler bookkeeping: the persistent job store, job run outcomes, shred confirmations.

Why ``apscheduler_jobs`` is declared here although APScheduler creates it itself: the
models==migrations check compares the live schema with this metadata, so a table that
only APScheduler knows would show up as drift; declaring it (exactly as APScheduler 3.11
defines it) lets a migration create it and the job store's ``create(checkfirst=True)``
becomes a no-op.

``job_runs`` makes jobs visible (``/jobs``, ``medcrypt-bot jobs list``): one row per
run with its trigger, outcome and PHI-free counts, because "the job ran" must be
checkable by an admin without reading logs.

``job_claims`` is a ledger of things done exactly once (``rot:<pairing>:<epoch>``...)
for tables that have no unique key of their own to decide it - the relay's outbox has
no dedupe column - so an ``INSERT ... ON CONFLICT DO NOTHING`` here is the claim.

``shred_confirmations`` holds the second step of ``/shred``: only the SHA-256 of the
one-time code is stored, so a database reader cannot confirm a shred.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Unicode,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base

JOB_OUTCOMES = ("running", "ok", "failed")
JOB_TRIGGERS = ("schedule", "startup", "manual", "chat")

#: APScheduler 3.11's SQLAlchemyJobStore table, column for column.
apscheduler_jobs = Table(
    "apscheduler_jobs",
    Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)


class JobRun(Base):
    """One execution of a scheduled job: when, why, how it ended and what it did."""

    __tablename__ = "job_runs"
    __table_args__ = (
        CheckConstraint(f"outcome IN {JOB_OUTCOMES!r}", name="outcome"),
        CheckConstraint(f"trigger IN {JOB_TRIGGERS!r}", name="trigger"),
        Index(None, "job", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: "rotation" or "shred_sweep" (or "shred_pairing", "erasure" for on-demand runs).
    job: Mapped[str] = mapped_column(String(32))
    trigger: Mapped[str] = mapped_column(String(16))
    #: The instant the job reasoned about (the injected clock, may be time-travelled).
    as_of: Mapped[datetime]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(16), default="running")
    #: JSON of counts only ({"epochs_created": 3, ...}); never ids, names or tokens.
    summary: Mapped[str] = mapped_column(String(512), default="{}")
    #: Exception class name on failure (messages may be long; the class says enough).
    error: Mapped[str | None] = mapped_column(String(128))


class ShredConfirmation(Base):
    """A pending ``/shred`` awaiting its one-time code from the same admin."""

    __tablename__ = "shred_confirmations"
    __table_args__ = (UniqueConstraint("pairing_id", "actor_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: 32 hex characters; a pairing of the storage schema or of the relay's own tables
    #: (hence no foreign key). Rows live five minutes.
    pairing_id: Mapped[str] = mapped_column(String(32))
    #: Identity id of the admin who asked (only they can confirm).
    actor_id: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class JobClaim(Base):
    """A once-only action taken by a job; the primary key is the claim."""

    __tablename__ = "job_claims"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    created_at: Mapped[datetime]
