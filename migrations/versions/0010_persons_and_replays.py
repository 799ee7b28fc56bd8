"""Replay-proof inbound keys.

- ``inbound_keys`` keeps the SHA-256 of the platform's id instead of the id itself
  (Twilio) or a keyed hash of chat and message id (Telegram). A stored MessageSid is
  hashed in place. A Telegram key cannot be converted - it is an HMAC under the server
  keyring of values the row does not hold - so those rows are deleted; why that is safe
  is in docs/adr/0010-admin-persons-and-confirmations.md.

Downgrade goes back to the old column holding the hex digest: the old code never meets
those values again, so after a downgrade the keys of messages received before it no
longer refuse a replay.

Written by hand with plain SQLAlchemy types (a migration must not import application
code that later changes).

Revision ID: 0010_persons_and_replays
Revises: 0009_job_reference_namespace
Create Date: 2026-12-02
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_persons_and_replays"
down_revision: str | None = "0009_job_reference_namespace"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INBOUND = sa.table("inbound_keys", sa.column("id", sa.Integer),
                    sa.column("platform", sa.String(16)),
                    sa.column("platform_message_id", sa.String(128)),
                    sa.column("key_sha256", sa.LargeBinary(32)))


def _hash_inbound_keys() -> None:
    """Twilio MessageSids become their SHA-256; Telegram's keyed hashes are dropped."""
    conn = op.get_bind()
    conn.execute(_INBOUND.delete().where(_INBOUND.c.platform != "whatsapp"))
    for row_id, sid in conn.execute(sa.select(_INBOUND.c.id, _INBOUND.c.platform_message_id)
                                    ).all():
        conn.execute(_INBOUND.update().where(_INBOUND.c.id == row_id)
                     .values(key_sha256=hashlib.sha256(sid.encode("utf-8")).digest()))


def upgrade() -> None:
    with op.batch_alter_table("inbound_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_sha256", sa.LargeBinary(length=32), nullable=True))
    _hash_inbound_keys()
    with op.batch_alter_table("inbound_keys", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_inbound_keys_platform_platform_message_id"),
                                 type_="unique")
        batch_op.drop_column("platform_message_id")
        batch_op.alter_column("key_sha256", existing_type=sa.LargeBinary(length=32),
                              nullable=False)
        batch_op.create_unique_constraint(op.f("uq_inbound_keys_platform_key_sha256"),
                                          ["platform", "key_sha256"])


def downgrade() -> None:
    with op.batch_alter_table("inbound_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("platform_message_id", sa.String(length=128),
                                      nullable=True))
    conn = op.get_bind()
    for row_id, digest in conn.execute(sa.select(_INBOUND.c.id, _INBOUND.c.key_sha256)).all():
        conn.execute(_INBOUND.update().where(_INBOUND.c.id == row_id)
                     .values(platform_message_id=bytes(digest).hex()))
    with op.batch_alter_table("inbound_keys", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_inbound_keys_platform_key_sha256"), type_="unique")
        batch_op.drop_column("key_sha256")
        batch_op.alter_column("platform_message_id", existing_type=sa.String(length=128),
                              nullable=False)
        batch_op.create_unique_constraint(
            op.f("uq_inbound_keys_platform_platform_message_id"),
            ["platform", "platform_message_id"])
