"""Pairing tags: the short name of each pairing ("K7Q-2MX"), unique in the database.

Why (issue 16): admins, physicians and patients need a name for a pairing that holds no
personal data. The tag is derived from the random pairing id (PROTOCOL §37, ADR 0031),
so the companions compute it without asking the bot; this column holds it so that the
bot finds a pairing by its tag with an index and refuses a second pairing with the same
tag (a UNIQUE index: NULLs do not collide on SQLite or PostgreSQL).

Existing pairings get their tag here. Two existing pairings whose ids happen to share a
tag (about one chance in 2 000 for a clinic of 1 000 pairings) cannot both hold it: the
older keeps it, the newer keeps NULL and is named by its hex id, as before.

Both directions are plain ``ADD``/``DROP COLUMN`` and an index, never a batch rebuild
of ``pairings`` (on SQLite a rebuild drops the table, cascading to every row that
references it: docs/adr/0011).

Written by hand with plain SQLAlchemy types and the standard library: a migration must
not import application code that later changes; ``tests/storage/test_pairing_tags.py``
checks that the tags written here are ``crypto.keyless.tags.tag_of``'s.

Revision ID: 0018_pairing_tags
Revises: 0017_v3_upgrade
Create Date: 2026-12-02
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_pairing_tags"
down_revision: str | None = "0017_v3_upgrade"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PAIRINGS = sa.table("pairings", sa.column("pairing_id", sa.String(32)),
                     sa.column("created_at", sa.DateTime(timezone=True)),
                     sa.column("tag", sa.String(7)))
_TO_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
                              "0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def _tag(pairing_hex: str) -> str | None:
    try:
        raw = bytes.fromhex(pairing_hex)
    except ValueError:  # not a pairing id a companion made: it keeps being named by its id
        return None
    digest = hashlib.sha256(b"MEDCRYPT-TAG\x00v1\x00" + raw).digest()
    symbols = base64.b32encode(digest[:5]).decode("ascii").translate(_TO_CROCKFORD)
    return f"{symbols[:3]}-{symbols[3:6]}"


def upgrade() -> None:
    op.add_column("pairings", sa.Column("tag", sa.String(length=7), nullable=True))
    conn = op.get_bind()
    taken: set[str] = set()
    rows = conn.execute(sa.select(_PAIRINGS.c.pairing_id).order_by(
        _PAIRINGS.c.created_at, _PAIRINGS.c.pairing_id)).all()
    for (pairing_id,) in rows:
        tag = _tag(pairing_id)
        if tag is None or tag in taken:
            continue
        taken.add(tag)
        conn.execute(_PAIRINGS.update().where(_PAIRINGS.c.pairing_id == pairing_id)
                     .values(tag=tag))
    op.create_index(op.f("ix_pairings_tag"), "pairings", ["tag"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_pairings_tag"), table_name="pairings")
    op.drop_column("pairings", "tag")  # in place (SQLite 3.35+), never a batch rebuild
