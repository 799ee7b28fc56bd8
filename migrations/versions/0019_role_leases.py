"""Role leases and replica heartbeats: several bot replicas on one PostgreSQL.

Why (issue 18, docs/adr/0032): the Telegram poller, the scheduler, the audit
checkpointer and the witness sender must run in one replica at a time, and a killed or
paused holder must be replaced within seconds without ever acting again. ``role_leases``
holds each role's holder, fencing epoch and expiry (written with the database's clock);
``replicas`` holds each process's heartbeat for ``medcrypt-bot cluster status``.

``job_runs.slot`` with ``UNIQUE (job, slot)``: the scheduled fire time a run stands for,
so a slot runs once across replicas and a run killed half-way is resumed, not repeated.

``rate_limits`` (UNLOGGED on PostgreSQL): the per-user rate limit shared by replicas,
one GCRA row per sender (a keyed hash, never the address).

Downgrade drops the tables and the column: replicas then run every role again, as
before.

Revision ID: 0019_role_leases
Revises: 0018_pairing_tags
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_role_leases"
down_revision: str | None = "0018_pairing_tags"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "role_leases",
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("role", name=op.f("pk_role_leases")),
        sa.UniqueConstraint("role", "epoch", name=op.f("uq_role_leases_role_epoch")),
    )
    op.create_table(
        "replicas",
        sa.Column("replica_id", sa.String(length=128), nullable=False),
        sa.Column("host", sa.String(length=128), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("replica_id", name=op.f("pk_replicas")),
    )
    op.create_index(op.f("ix_replicas_seen_at"), "replicas", ["seen_at"], unique=False)
    unlogged = ["UNLOGGED"] if op.get_bind().dialect.name == "postgresql" else []
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.LargeBinary(length=34), nullable=False),
        sa.Column("tat", sa.DateTime(timezone=True), nullable=False),
        sa.Column("warned", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limits")),
        prefixes=unlogged,
    )
    with op.batch_alter_table("job_runs") as batch:
        batch.add_column(sa.Column("slot", sa.DateTime(timezone=True), nullable=True))
    op.create_index("uq_job_runs_job_slot", "job_runs", ["job", "slot"], unique=True)


def downgrade() -> None:
    op.drop_table("rate_limits")
    op.drop_index("uq_job_runs_job_slot", table_name="job_runs")
    with op.batch_alter_table("job_runs") as batch:
        batch.drop_column("slot")
    op.drop_index(op.f("ix_replicas_seen_at"), table_name="replicas")
    op.drop_table("replicas")
    op.drop_table("role_leases")
