"""The language of each identity's replies (issue 16, docs/adr/0035).

``platform_identities.language``: a catalog code such as ``es_MX`` (never personal
data). Telegram's ``language_code`` sets it on every update until the person chooses
one with ``/language`` (``language_chosen``, after which the choice stays),
and scheduled notices (key rotation, shred warnings) read it, since they have no
inbound update to take it from. NULL means the clinic's ``default_language``, so every
existing identity keeps getting what it got before.

Downgrade drops the column: every reply is in the clinic default again.

Revision ID: 0020_identity_language
Revises: 0019_role_leases
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_identity_language"
down_revision: str | None = "0019_role_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# In place on both backends: a batch rebuild of platform_identities on SQLite would drop
# a table that pairings, confirmations and the outbox reference (FOREIGN KEY failure).
def upgrade() -> None:
    op.add_column("platform_identities",
                  sa.Column("language", sa.String(length=16), nullable=True))
    op.add_column("platform_identities",
                  sa.Column("language_chosen", sa.Boolean(), nullable=False,
                            server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("platform_identities", "language_chosen")  # SQLite 3.35+: in place
    op.drop_column("platform_identities", "language")
