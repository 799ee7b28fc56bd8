"""``pairings.shredded_at``: a pairing ``/shred`` ended is ended for good (issue 12).

Why a column and not a new ``status`` value: the statuses are held by a CHECK constraint,
and SQLite can change one only by rebuilding the table. Rebuilding ``pairings`` means
dropping it, and with ``foreign_keys`` on (the bot's pragma, which migrations share) a
``DROP TABLE`` first deletes every row - cascading to the epochs, stored tokens and escrow
deposits that reference it. So a shredded pairing keeps the status of every pairing that
has ended without an erasure (``unpaired``) and records *how* it ended here; the relay
refuses each later token of it with the shred's own reason (docs/adr/0011).

Both directions are plain ``ADD``/``DROP COLUMN`` (SQLite 3.35+ drops a column in place),
never a batch rebuild. A downgrade forgets when a pairing was shredded, not that it
ended: its status stays ``unpaired``, which the relay refuses too.

Revision ID: 0011_pairing_shredded_at
Revises: 0009_job_reference_namespace
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_pairing_shredded_at"
down_revision: str | None = "0009_job_reference_namespace"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("pairings",
                  sa.Column("shredded_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("pairings", "shredded_at")
