"""Admins are persons; one confirmation step for risky commands; replay-proof inbound keys.

- ``admin_persons``: one row per admin made in chat. Every existing grant's identity
  becomes a person of its own (the configuration may still say that identity belongs to
  a configured person: configured persons win, see bot/domain/persons.py). A grant
  made by address before first contact gets a person of its own too.
- ``clinic_admins`` gains the grant's person, who confirmed it, and the pseudonyms of
  the proposer's and confirmer's persons. Old grants had no confirmer: those columns
  stay NULL, and break-glass then judges the proposer by the identity recorded in
  ``added_by``.
- ``breakglass_requests`` records the requester's and the approver's persons.
- ``confirmations``: the one-time codes of risky commands (storage/models/confirmations.py).
- ``inbound_keys`` keeps the SHA-256 of the platform's id instead of the id itself
  (Twilio) or a keyed hash of chat and message id (Telegram). A stored MessageSid is
  hashed in place. A Telegram key cannot be converted - it is an HMAC under the server
  keyring of values the row does not hold - so those rows are deleted; why that is safe
  is in docs/adr/0010-admin-persons-and-confirmations.md.

Downgrade drops what this adds. Inbound keys go back to the old column holding the hex
digest: the old code never meets those values again, so after a downgrade the keys of
messages received before it no longer refuse a replay.

Written by hand with plain SQLAlchemy types (a migration must not import application
code that later changes).

Revision ID: 0013_persons_and_replays
Revises: 0012_guard_pieces
Create Date: 2026-12-02
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_persons_and_replays"
down_revision: str | None = "0012_guard_pieces"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ADMINS = sa.table("clinic_admins", sa.column("id", sa.String(32)),
                   sa.column("identity_id", sa.String(32)),
                   sa.column("person_id", sa.String(32)),
                   sa.column("added_at", sa.DateTime(timezone=True)))
_PERSONS = sa.table("admin_persons", sa.column("id", sa.String(32)),
                    sa.column("created_at", sa.DateTime(timezone=True)))
_INBOUND = sa.table("inbound_keys", sa.column("id", sa.Integer),
                    sa.column("platform", sa.String(16)),
                    sa.column("platform_message_id", sa.String(128)),
                    sa.column("key_sha256", sa.LargeBinary(32)))


def _persons_for_existing_grants() -> None:
    """One person per identity (all of that identity's grants), one per address grant."""
    conn = op.get_bind()
    rows = conn.execute(sa.select(_ADMINS.c.id, _ADMINS.c.identity_id, _ADMINS.c.added_at)
                        .order_by(_ADMINS.c.added_at)).all()
    person_of: dict[str, str] = {}
    for grant_id, identity_id, added_at in rows:
        key = identity_id or f"grant:{grant_id}"
        if key not in person_of:
            person_of[key] = secrets.token_hex(16)
            conn.execute(_PERSONS.insert().values(id=person_of[key], created_at=added_at))
        conn.execute(_ADMINS.update().where(_ADMINS.c.id == grant_id)
                     .values(person_id=person_of[key]))


def _hash_inbound_keys() -> None:
    """Twilio MessageSids become their SHA-256; Telegram's keyed hashes are dropped."""
    conn = op.get_bind()
    conn.execute(_INBOUND.delete().where(_INBOUND.c.platform != "whatsapp"))
    for row_id, sid in conn.execute(sa.select(_INBOUND.c.id, _INBOUND.c.platform_message_id)
                                    ).all():
        conn.execute(_INBOUND.update().where(_INBOUND.c.id == row_id)
                     .values(key_sha256=hashlib.sha256(sid.encode("utf-8")).digest()))


def upgrade() -> None:
    op.create_table(
        "admin_persons",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_persons")),
    )
    with op.batch_alter_table("clinic_admins", schema=None) as batch_op:
        batch_op.add_column(sa.Column("person_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("confirmed_by", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("added_by_person", sa.String(length=48), nullable=True))
        batch_op.add_column(sa.Column("confirmed_by_person", sa.String(length=48),
                                      nullable=True))
    _persons_for_existing_grants()
    with op.batch_alter_table("clinic_admins", schema=None) as batch_op:
        batch_op.alter_column("person_id", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_foreign_key(
            op.f("fk_clinic_admins_person_id_admin_persons"), "admin_persons", ["person_id"],
            ["id"], ondelete="CASCADE")
        batch_op.create_foreign_key(
            op.f("fk_clinic_admins_confirmed_by_platform_identities"), "platform_identities",
            ["confirmed_by"], ["id"], ondelete="SET NULL")
        batch_op.create_index(op.f("ix_clinic_admins_person_id"), ["person_id"], unique=False)

    with op.batch_alter_table("breakglass_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requester_person", sa.String(length=48), nullable=True))
        batch_op.add_column(sa.Column("approver_person", sa.String(length=48), nullable=True))

    op.create_table(
        "confirmations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("command", sa.String(length=32), nullable=False),
        sa.Column("binding", sa.LargeBinary(length=32), nullable=False),
        sa.Column("asker_id", sa.String(length=32), nullable=False),
        sa.Column("asker_person", sa.String(length=48), nullable=False),
        sa.Column("confirm_by", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("confirm_by IN ('asker', 'other_person')",
                           name=op.f("ck_confirmations_confirm_by")),
        sa.ForeignKeyConstraint(["asker_id"], ["platform_identities.id"],
                                name=op.f("fk_confirmations_asker_id_platform_identities"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_confirmations")),
        sa.UniqueConstraint("code_sha256", name=op.f("uq_confirmations_code_sha256")),
    )
    op.create_index(op.f("ix_confirmations_asker_id"), "confirmations", ["asker_id"],
                    unique=False)
    op.create_index(op.f("ix_confirmations_expires_at"), "confirmations", ["expires_at"],
                    unique=False)

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

    op.drop_index(op.f("ix_confirmations_expires_at"), table_name="confirmations")
    op.drop_index(op.f("ix_confirmations_asker_id"), table_name="confirmations")
    op.drop_table("confirmations")

    with op.batch_alter_table("breakglass_requests", schema=None) as batch_op:
        batch_op.drop_column("approver_person")
        batch_op.drop_column("requester_person")

    with op.batch_alter_table("clinic_admins", schema=None) as batch_op:
        batch_op.drop_index(op.f("ix_clinic_admins_person_id"))
        batch_op.drop_constraint(op.f("fk_clinic_admins_confirmed_by_platform_identities"),
                                 type_="foreignkey")
        batch_op.drop_constraint(op.f("fk_clinic_admins_person_id_admin_persons"),
                                 type_="foreignkey")
        batch_op.drop_column("confirmed_by_person")
        batch_op.drop_column("added_by_person")
        batch_op.drop_column("confirmed_by")
        batch_op.drop_column("person_id")
    op.drop_table("admin_persons")
