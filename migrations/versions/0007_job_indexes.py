"""Jobs at clinic scale, and a job store that holds data only (issue 5).

* ``ix_media_blobs_pairing_id_epoch``: the shred deletes media by (pairing, epoch) and
  the ON DELETE CASCADE from ``epochs`` looks rows up by that key; both scanned the
  whole table before.
* ``ix_epochs_state_epoch``: rotation retires ``state = 'active' AND epoch < ?`` and
  the sweep walks the unshredded past by state.
* ``scheduler_jobs`` replaces APScheduler's ``apscheduler_jobs``, whose rows were
  pickles the bot unpickled on every wake-up (code execution for anyone who can write
  the table). The old rows are dropped, not converted: converting would mean
  unpickling them. Nothing is lost - the bot re-registers its jobs from settings at
  every start and runs rotation and sweep once on start-up (the catch-up), which is
  what a stored past fire time would have caused. The downgrade recreates the empty
  old table (APScheduler would refill it).

Written by hand against storage/models/{epochs,media,jobs}.py with plain SQLAlchemy
types (a migration must not import application code that later changes).

Revision ID: 0007_job_indexes
Revises: 0006_breakglass
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_job_indexes"
down_revision: str | None = "0006_breakglass"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_media_blobs_pairing_id_epoch"), "media_blobs", ["pairing_id", "epoch"],
        unique=False,
    )
    op.create_index(op.f("ix_epochs_state_epoch"), "epochs", ["state", "epoch"], unique=False)
    op.drop_index(op.f("ix_apscheduler_jobs_next_run_time"), table_name="apscheduler_jobs")
    op.drop_table("apscheduler_jobs")
    op.create_table(
        "scheduler_jobs",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("func_ref", sa.String(length=128), nullable=False),
        sa.Column("trigger", sa.String(length=1024), nullable=False),
        sa.Column("args", sa.String(length=1024), nullable=False),
        sa.Column("options", sa.String(length=1024), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduler_jobs")),
    )
    op.create_index(
        op.f("ix_scheduler_jobs_next_run_time"), "scheduler_jobs", ["next_run_time"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_scheduler_jobs_next_run_time"), table_name="scheduler_jobs")
    op.drop_table("scheduler_jobs")
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apscheduler_jobs")),
    )
    op.create_index(
        op.f("ix_apscheduler_jobs_next_run_time"), "apscheduler_jobs", ["next_run_time"],
        unique=False,
    )
    op.drop_index(op.f("ix_epochs_state_epoch"), table_name="epochs")
    op.drop_index(op.f("ix_media_blobs_pairing_id_epoch"), table_name="media_blobs")
