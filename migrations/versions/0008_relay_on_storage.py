"""The relay moves onto the storage tables; the ``bot_*`` tables of 0003 are dropped.

Why: the relay was built on its own tables (``bot_identities``, ``bot_pairings``,
``bot_outbox``...) before the storage models existed, so the bot kept two table sets for
the same facts, and rotation/shredding/break-glass had to handle both. From here on the
relay writes ``platform_identities``, ``pairings``, ``epochs``, ``stored_tokens``,
``escrow_deposits``, ``pending_parts``, ``inbound_keys``, ``media_blobs``,
``clinic_admins`` and ``outbox``; this revision adds what delivery needs there:

* ``platform_identities.last_inbound_at`` / ``template_sent_at`` (WhatsApp 24-hour window);
* ``outbox``: status ``held`` (window closed), ``delivery_status`` (platform receipts),
  ``media_id`` (the file of a document row), ``filename`` (the bot's own documents only),
  an index for per-recipient head of line;
* ``outbox_early_receipts``: Twilio status callbacks that overtook the recording of
  their message's SID (they used to wait in memory and were lost on a restart);
* ``job_claims`` goes: it recorded the relay-table rotations and reminders, which are
  now epoch rows and outbox dedupe keys;
* ``media_blobs``: the URL hash and its expiry become nullable (a URL is minted per send),
  and so do pairing and epoch (the bot's own documents, e.g. break-glass bundles).

No released version ever wrote the ``bot_*`` tables, so their rows are not carried over;
an upgrade that finds any refuses with a message instead of dropping data silently.

Revision ID: 0008_relay_on_storage
Revises: 0007_job_indexes
Create Date: 2026-11-23
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0008_relay_on_storage"
down_revision: str | None = "0007_job_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Children before parents (foreign keys).
_BOT_TABLES = (
    "bot_pending_parts", "bot_outbox", "bot_admins", "bot_pairings", "bot_relayed_tokens",
    "bot_media", "bot_inbound_keys", "bot_identities",
)
_OLD_STATUSES = "status IN ('pending', 'sending', 'sent', 'delivered', 'failed')"
_NEW_STATUSES = "status IN ('pending', 'sending', 'held', 'sent', 'failed')"


def _refuse_if_bot_tables_hold_rows() -> None:
    bind = op.get_bind()
    full = [t for t in _BOT_TABLES
            if bind.execute(sa.text(f"SELECT 1 FROM {t} LIMIT 1")).first() is not None]  # noqa: S608 - fixed names
    if full:
        raise RuntimeError(
            "this database holds relay rows in the pre-release tables "
            f"({', '.join(full)}); they cannot be carried over. Deliver or discard them "
            "with a bot at revision 0006_breakglass, or start from a fresh database."
        )


def upgrade() -> None:
    _refuse_if_bot_tables_hold_rows()
    for index, table in (("ix_bot_outbox_status_next_attempt_at", "bot_outbox"),
                         ("ix_bot_outbox_recipient_id_status", "bot_outbox"),
                         ("ix_bot_outbox_platform_message_id", "bot_outbox"),
                         ("ix_bot_relayed_tokens_epoch", "bot_relayed_tokens")):
        op.drop_index(index, table_name=table)
    for table in _BOT_TABLES:
        op.drop_table(table)
    op.drop_table("job_claims")

    op.add_column("platform_identities",
                  sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("platform_identities",
                  sa.Column("template_sent_at", sa.DateTime(timezone=True), nullable=True))

    op.execute("UPDATE outbox SET status = 'sent' WHERE status = 'delivered'")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_outbox_status"), _NEW_STATUSES)
        batch_op.add_column(sa.Column("media_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("delivery_status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("filename", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_outbox_media_id_media_blobs"), "media_blobs", ["media_id"], ["id"],
            ondelete="SET NULL")
        batch_op.create_index(op.f("ix_outbox_dest_identity_id_status"),
                              ["dest_identity_id", "status"], unique=False)

    op.create_table(
        "outbox_early_receipts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("platform_message_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_early_receipts")),
    )
    op.create_index(op.f("ix_outbox_early_receipts_platform_message_id"),
                    "outbox_early_receipts", ["platform_message_id"], unique=False)
    op.create_index(op.f("ix_outbox_early_receipts_received_at"),
                    "outbox_early_receipts", ["received_at"], unique=False)

    with op.batch_alter_table("media_blobs", schema=None) as batch_op:
        batch_op.alter_column("pairing_id", existing_type=sa.String(length=32), nullable=True)
        batch_op.alter_column("epoch", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("url_token_hash", existing_type=sa.LargeBinary(length=32),
                              nullable=True)
        batch_op.alter_column("expires_at", existing_type=sa.DateTime(timezone=True),
                              nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM media_blobs WHERE url_token_hash IS NULL OR expires_at IS NULL "
               "OR pairing_id IS NULL OR epoch IS NULL")
    with op.batch_alter_table("media_blobs", schema=None) as batch_op:
        batch_op.alter_column("epoch", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("pairing_id", existing_type=sa.String(length=32), nullable=False)
        batch_op.alter_column("expires_at", existing_type=sa.DateTime(timezone=True),
                              nullable=False)
        batch_op.alter_column("url_token_hash", existing_type=sa.LargeBinary(length=32),
                              nullable=False)

    op.drop_table("outbox_early_receipts")  # drops its indexes with it
    op.execute("UPDATE outbox SET status = 'pending' WHERE status = 'held'")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(op.f("ix_outbox_dest_identity_id_status"))
        batch_op.drop_constraint(op.f("fk_outbox_media_id_media_blobs"), type_="foreignkey")
        batch_op.drop_column("filename")
        batch_op.drop_column("delivery_status")
        batch_op.drop_column("media_id")
        batch_op.drop_constraint(op.f("ck_outbox_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_outbox_status"), _OLD_STATUSES)

    op.create_table(
        "job_claims",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_job_claims")),
    )
    op.drop_column("platform_identities", "template_sent_at")
    op.drop_column("platform_identities", "last_inbound_at")

    # The bot_* tables come back exactly as 0003 created them (one definition, not two).
    spec = importlib.util.spec_from_file_location(
        "_medcrypt_0003", Path(__file__).with_name("0003_bot_relay.py"))
    assert spec is not None and spec.loader is not None
    revision_0003 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(revision_0003)
    revision_0003.upgrade()
