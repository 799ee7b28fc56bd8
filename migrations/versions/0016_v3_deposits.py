"""v3 at the relay: segment deposits, sealed pinned-key records, enrolled physician keys.

Why (issue 13): a v3 MESSAGE carries its segment's escrow deposit, which the bot strips
and keeps - every *distinct* one per (pairing, month, direction, chain id), never
replacing one (``segment_deposits``; the v2 table ``escrow_deposits`` keeps one per month
and direction and cannot hold them). Break-glass verifies deposits against a pinned-key
record the physician's companion sends sealed to the escrow key (``pinned_records``),
and the record against a key the clinic enrolled (``enrolled_physician_keys``). No row
holds a key that opens anything: sealed boxes, digests and public keys (docs/adr/0026).

Downgrade drops the three tables: the v3 deposits and records are lost (break-glass of
v3 months becomes impossible), the enrolments too.

Revision ID: 0016_v3_deposits
Revises: 0016_outbox_heads
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_v3_deposits"
down_revision: str | None = "0016_outbox_heads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "segment_deposits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pairing_id", sa.String(length=32), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("direction", sa.SmallInteger(), nullable=False),
        sa.Column("chain_id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("deposited_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("direction IN (0, 1)", name=op.f("ck_segment_deposits_direction")),
        sa.ForeignKeyConstraint(
            ["pairing_id"], ["pairings.pairing_id"],
            name=op.f("fk_segment_deposits_pairing_id_pairings"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_deposits")),
        sa.UniqueConstraint(
            "pairing_id", "epoch", "direction", "chain_id", "digest",
            name=op.f("uq_segment_deposits_pairing_id_epoch_direction_chain_id_digest")),
    )
    op.create_index(op.f("ix_segment_deposits_pairing_id_epoch"), "segment_deposits",
                    ["pairing_id", "epoch"], unique=False)
    op.create_table(
        "pinned_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pairing_id", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pairing_id"], ["pairings.pairing_id"],
            name=op.f("fk_pinned_records_pairing_id_pairings"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pinned_records")),
        sa.UniqueConstraint("pairing_id", "digest",
                            name=op.f("uq_pinned_records_pairing_id_digest")),
    )
    op.create_index(op.f("ix_pinned_records_pairing_id"), "pinned_records", ["pairing_id"],
                    unique=False)
    op.create_table(
        "enrolled_physician_keys",
        sa.Column("identity_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("identity_key", name=op.f("pk_enrolled_physician_keys")),
    )


def downgrade() -> None:
    op.drop_table("enrolled_physician_keys")
    op.drop_index(op.f("ix_pinned_records_pairing_id"), table_name="pinned_records")
    op.drop_table("pinned_records")
    op.drop_index(op.f("ix_segment_deposits_pairing_id_epoch"), table_name="segment_deposits")
    op.drop_table("segment_deposits")
