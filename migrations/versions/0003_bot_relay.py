"""The relay's own tables: identities (sealed addresses), pairings with consent,
relayed tokens per epoch, inbound idempotency keys, pending parts, media, outbox.

Mirrors storage/models/bot_relay.py with plain SQLAlchemy types (generated with
autogenerate, then the project's UTCDateTime replaced by DateTime(timezone=True), which
is what it renders as).

Revision ID: 0003_bot_relay
Revises: 0005_jobs
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_bot_relay"
down_revision: str | None = "0005_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bot_identities",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("address_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("address_index", sa.LargeBinary(length=34), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("template_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_identities")),
        sa.UniqueConstraint("address_index", name=op.f("uq_bot_identities_address_index")),
    )
    op.create_table(
        "bot_inbound_keys",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("dedupe_key", sa.String(length=80), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "dedupe_key", name=op.f("pk_bot_inbound_keys")),
    )
    op.create_table(
        "bot_media",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("url_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("url_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_media")),
        sa.UniqueConstraint("url_hash", name=op.f("uq_bot_media_url_hash")),
    )
    op.create_table(
        "bot_relayed_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pairing_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_relayed_tokens")),
    )
    with op.batch_alter_table("bot_relayed_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_bot_relayed_tokens_epoch", ["epoch"], unique=False)

    op.create_table(
        "bot_admins",
        sa.Column("identity_id", sa.String(length=32), nullable=False),
        sa.Column("added_by", sa.String(length=32), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["bot_identities.id"],
            name=op.f("fk_bot_admins_identity_id_bot_identities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("identity_id", name=op.f("pk_bot_admins")),
    )
    op.create_table(
        "bot_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("recipient_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("media_id", sa.String(length=32), nullable=True),
        sa.Column("filename", sa.String(length=64), nullable=True),
        sa.Column("origin_id", sa.String(length=32), nullable=True),
        sa.Column("pairing_id", sa.LargeBinary(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=32), nullable=True),
        sa.Column("platform_message_id", sa.String(length=64), nullable=True),
        sa.Column("delivery_status", sa.String(length=16), nullable=True),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["bot_media.id"],
            name=op.f("fk_bot_outbox_media_id_bot_media"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["bot_identities.id"],
            name=op.f("fk_bot_outbox_recipient_id_bot_identities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_outbox")),
    )
    with op.batch_alter_table("bot_outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bot_outbox_platform_message_id", ["platform_message_id"], unique=False
        )
        batch_op.create_index(
            "ix_bot_outbox_recipient_id_status", ["recipient_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_bot_outbox_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )

    op.create_table(
        "bot_pairings",
        sa.Column("pairing_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("physician_id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("start_epoch", sa.Integer(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("offer_expires_at", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consent_channel", sa.String(length=16), nullable=True),
        sa.Column("consent_notice_version", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["bot_identities.id"],
            name=op.f("fk_bot_pairings_patient_id_bot_identities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["physician_id"],
            ["bot_identities.id"],
            name=op.f("fk_bot_pairings_physician_id_bot_identities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pairing_id", name=op.f("pk_bot_pairings")),
    )
    op.create_table(
        "bot_pending_parts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(length=32), nullable=False),
        sa.Column("group_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("part_index", sa.Integer(), nullable=False),
        sa.Column("part_count", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sender_id"],
            ["bot_identities.id"],
            name=op.f("fk_bot_pending_parts_sender_id_bot_identities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_pending_parts")),
        sa.UniqueConstraint(
            "sender_id",
            "group_id",
            "part_index",
            name=op.f("uq_bot_pending_parts_sender_id_group_id_part_index"),
        ),
    )


def downgrade() -> None:
    op.drop_table("bot_pending_parts")
    op.drop_table("bot_pairings")
    with op.batch_alter_table("bot_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_bot_outbox_status_next_attempt_at")
        batch_op.drop_index("ix_bot_outbox_recipient_id_status")
        batch_op.drop_index("ix_bot_outbox_platform_message_id")

    op.drop_table("bot_outbox")
    op.drop_table("bot_admins")
    with op.batch_alter_table("bot_relayed_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_bot_relayed_tokens_epoch")

    op.drop_table("bot_relayed_tokens")
    op.drop_table("bot_media")
    op.drop_table("bot_inbound_keys")
    op.drop_table("bot_identities")
