"""v3 pairing admission: the offer's admission hash, and accepts pending confirmation.

Why (issue 13): the bot bound whoever sent the first PAIR_ACCEPT. A v3 offer registers
``H(A)``; an accept must carry ``A``; admitted accepts wait here (one per account per
pairing, the same accept bytes once) until the physician's KEY_CONFIRM names one, and
two from different accounts abort the offer (``aborted_at``). Hashes only: no key, no
token body (docs/adr/0021).

Downgrade drops both tables: a v3 offer still pending is lost (the physician shows a
new QR); a bound pairing keeps its ``pairings`` row.

Revision ID: 0015_v3_pairing_admission
Revises: 0014_shred_uses_confirmations
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_v3_pairing_admission"
down_revision: str | None = "0014_shred_uses_confirmations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pairing_admissions",
        sa.Column("pairing_id", sa.String(length=32), nullable=False),
        sa.Column("admission_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("aborted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["pairing_id"], ["pairings.pairing_id"],
            name=op.f("fk_pairing_admissions_pairing_id_pairings"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pairing_id", name=op.f("pk_pairing_admissions")),
    )
    op.create_table(
        "pending_accepts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pairing_id", sa.String(length=32), nullable=False),
        sa.Column("sender_id", sa.String(length=32), nullable=False),
        sa.Column("accept_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pairing_id"], ["pairings.pairing_id"],
            name=op.f("fk_pending_accepts_pairing_id_pairings"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["sender_id"], ["platform_identities.id"],
            name=op.f("fk_pending_accepts_sender_id_platform_identities"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_accepts")),
        sa.UniqueConstraint("pairing_id", "accept_hash",
                            name=op.f("uq_pending_accepts_pairing_id_accept_hash")),
        sa.UniqueConstraint("pairing_id", "sender_id",
                            name=op.f("uq_pending_accepts_pairing_id_sender_id")),
    )
    op.create_index(op.f("ix_pending_accepts_pairing_id"), "pending_accepts", ["pairing_id"],
                    unique=False)
    op.create_index(op.f("ix_pending_accepts_sender_id"), "pending_accepts", ["sender_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_pending_accepts_sender_id"), table_name="pending_accepts")
    op.drop_index(op.f("ix_pending_accepts_pairing_id"), table_name="pending_accepts")
    op.drop_table("pending_accepts")
    op.drop_table("pairing_admissions")
