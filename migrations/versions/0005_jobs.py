"""Scheduler tables: APScheduler's persistent job store, job run outcomes, /shred codes,
the once-only claims ledger.

Written by hand against storage/models/jobs.py with plain SQLAlchemy types (a migration
must not import application code that later changes). ``apscheduler_jobs`` matches the
table APScheduler 3.11 would create, so its ``create(checkfirst=True)`` finds it.

Revision ID: 0005_jobs
Revises: 0002_audit
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_jobs"
down_revision: str | None = "0002_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apscheduler_jobs")),
    )
    op.create_index(
        op.f("ix_apscheduler_jobs_next_run_time"),
        "apscheduler_jobs",
        ["next_run_time"],
        unique=False,
    )
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job", sa.String(length=32), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.String(length=512), nullable=False),
        sa.Column("error", sa.String(length=128), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('running', 'ok', 'failed')", name=op.f("ck_job_runs_outcome")
        ),
        sa.CheckConstraint(
            "trigger IN ('schedule', 'startup', 'manual', 'chat')",
            name=op.f("ck_job_runs_trigger"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
    )
    op.create_index(
        op.f("ix_job_runs_job_started_at"), "job_runs", ["job", "started_at"], unique=False
    )
    op.create_table(
        "shred_confirmations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pairing_id", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shred_confirmations")),
        sa.UniqueConstraint(
            "pairing_id", "actor_id", name=op.f("uq_shred_confirmations_pairing_id_actor_id")
        ),
    )


    op.create_table(
        "job_claims",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_job_claims")),
    )


def downgrade() -> None:
    op.drop_table("job_claims")
    op.drop_table("shred_confirmations")
    op.drop_index(op.f("ix_job_runs_job_started_at"), table_name="job_runs")
    op.drop_table("job_runs")
    op.drop_index(op.f("ix_apscheduler_jobs_next_run_time"), table_name="apscheduler_jobs")
    op.drop_table("apscheduler_jobs")
