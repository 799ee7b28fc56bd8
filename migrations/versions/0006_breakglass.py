"""Break-glass requests (issue 7): two-admin approval state, sealed reason, bundle digest.

Written by hand against storage/models/breakglass.py with plain SQLAlchemy types (a
migration must not import application code that later changes).

Revision ID: 0006_breakglass
Revises: 0003_bot_relay
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_breakglass"
down_revision: str | None = "0003_bot_relay"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "breakglass_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=10), nullable=False),
        sa.Column("pairing_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("requester_id", sa.String(length=32), nullable=False),
        sa.Column("approver_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.LargeBinary(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("bundle_sha256", sa.String(length=64), nullable=True),
        sa.Column("deposits", sa.Integer(), nullable=True),
        sa.Column("messages", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'denied', 'expired')",
            name=op.f("ck_breakglass_requests_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_breakglass_requests")),
        sa.UniqueConstraint("code", name=op.f("uq_breakglass_requests_code")),
    )
    op.create_index(
        op.f("ix_breakglass_requests_pairing_id"),
        "breakglass_requests",
        ["pairing_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_breakglass_requests_pairing_id"), table_name="breakglass_requests")
    op.drop_table("breakglass_requests")
