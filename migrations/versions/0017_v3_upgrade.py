"""v2 -> v3 upgrade: the offer the relay carried, and when the pairing became v3.

Why (issue 13): a live v2 pairing upgrades by two tokens (PROTOCOL §35). The relay keeps
the hash of the one offer it carried, so it relays only an answer naming that offer,
and marks the pairing v3 (``upgraded_at``) once the answer passed. A hash only: no key,
no token body (docs/adr/0027).

Downgrade drops the table: an upgraded pairing then looks like a v2 pairing to the
relay again (its companions keep their v3 sessions; nothing secret is lost).

Revision ID: 0017_v3_upgrade
Revises: 0016_v3_deposits
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_v3_upgrade"
down_revision: str | None = "0016_v3_deposits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pairing_upgrades",
        sa.Column("pairing_id", sa.String(length=32), nullable=False),
        sa.Column("offer_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offer_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("upgraded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["pairing_id"], ["pairings.pairing_id"],
            name=op.f("fk_pairing_upgrades_pairing_id_pairings"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pairing_id", name=op.f("pk_pairing_upgrades")),
    )


def downgrade() -> None:
    op.drop_table("pairing_upgrades")
