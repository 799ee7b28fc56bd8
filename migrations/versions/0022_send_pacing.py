"""Shared per-platform send pacing: one GCRA row per platform (several replicas).

Why (issue 18, ADR 0038): each replica paced its sends in memory, so three replicas sent
up to three times a platform's clinic-wide rate (Telegram about 30/s per bot, Twilio 80
per sender) and drew 429s for every chat. ``send_pacing`` holds, per platform, the GCRA
*theoretical arrival time* that every replica's outbox claim advances in its own
transaction. UNLOGGED on PostgreSQL: a crash empties it, which at worst allows one more
burst. SQLite has one bot process, which paces in memory; the table stays empty there.

Downgrade drops the table: replicas then pace per process again.

Revision ID: 0022_send_pacing
Revises: 0021_key_tree
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_send_pacing"
down_revision: str | None = "0021_key_tree"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    unlogged = ["UNLOGGED"] if op.get_bind().dialect.name == "postgresql" else []
    op.create_table(
        "send_pacing",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("tat", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", name=op.f("pk_send_pacing")),
        prefixes=unlogged,
    )


def downgrade() -> None:
    op.drop_table("send_pacing")
