"""``/shred`` confirms through the one confirmation primitive: ``shred_confirmations`` goes.

Issue 12 asks for one confirmation step for every risky command. ``/shred`` had kept a
table of its own (a code per admin and pairing, hashed); it now asks and redeems in
``confirmations`` like ``/admin_add`` and ``/admin_remove``. A code pending at upgrade
time is dropped with the table: it lived five minutes, and the admin asks again.

Revision ID: 0014_shred_uses_confirmations
Revises: 0013_persons_and_replays
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_shred_uses_confirmations"
down_revision: str | None = "0013_persons_and_replays"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("shred_confirmations")


def downgrade() -> None:
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
