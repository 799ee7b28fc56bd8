"""Initial schema: identities, admins, pairings, epochs, tokens, parts, outbox, escrow,
inbound idempotency keys and media blobs.

Generated with autogenerate against the models, then checked by hand: column types are
spelled with plain SQLAlchemy types (a migration must not import application code that
later changes), naming-convention names are explicit, and table creation follows
foreign-key order so downgrade drops in reverse.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("platform_message_id", sa.String(length=128), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_keys")),
        sa.UniqueConstraint(
            "platform",
            "platform_message_id",
            name=op.f("uq_inbound_keys_platform_platform_message_id"),
        ),
    )
    op.create_index(
        op.f("ix_inbound_keys_received_at"), "inbound_keys", ["received_at"], unique=False
    )
    op.create_table(
        "platform_identities",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("address", sa.LargeBinary(), nullable=True),
        sa.Column("address_bidx", sa.LargeBinary(length=34), nullable=True),
        sa.Column("label", sa.LargeBinary(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "platform IN ('telegram', 'whatsapp')", name=op.f("ck_platform_identities_platform")
        ),
        sa.CheckConstraint(
            "role IN ('unknown', 'patient', 'physician', 'admin')",
            name=op.f("ck_platform_identities_role"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_identities")),
        sa.UniqueConstraint(
            "platform", "address_bidx", name=op.f("uq_platform_identities_platform_address_bidx")
        ),
    )
    op.create_table(
        "clinic_admins",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("identity_id", sa.String(length=32), nullable=True),
        sa.Column("address", sa.LargeBinary(), nullable=True),
        sa.Column("address_bidx", sa.LargeBinary(length=34), nullable=True),
        sa.Column("added_by", sa.String(length=32), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "platform IN ('telegram', 'whatsapp')", name=op.f("ck_clinic_admins_platform")
        ),
        sa.CheckConstraint(
            "identity_id IS NOT NULL OR address_bidx IS NOT NULL",
            name=op.f("ck_clinic_admins_identity_or_index"),
        ),
        sa.ForeignKeyConstraint(
            ["added_by"],
            ["platform_identities.id"],
            name=op.f("fk_clinic_admins_added_by_platform_identities"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["platform_identities.id"],
            name=op.f("fk_clinic_admins_identity_id_platform_identities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinic_admins")),
    )
    op.create_index(
        op.f("ix_clinic_admins_identity_id"), "clinic_admins", ["identity_id"], unique=False
    )
    op.create_index(
        op.f("ix_clinic_admins_platform_address_bidx"),
        "clinic_admins",
        ["platform", "address_bidx"],
        unique=False,
    )
    op.create_table(
        "pairings",
        sa.Column("pairing_id", sa.String(length=32), nullable=False),
        sa.Column("physician_id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("start_epoch", sa.Integer(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("offer_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consent_channel", sa.String(length=16), nullable=True),
        sa.Column("consent_notice_version", sa.String(length=32), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'active', 'unpaired', 'erased')", name=op.f("ck_pairings_status")
        ),
        sa.CheckConstraint("grace_days >= 1", name=op.f("ck_pairings_grace_days")),
        sa.CheckConstraint("start_epoch >= 0", name=op.f("ck_pairings_start_epoch")),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["platform_identities.id"],
            name=op.f("fk_pairings_patient_id_platform_identities"),
        ),
        sa.ForeignKeyConstraint(
            ["physician_id"],
            ["platform_identities.id"],
            name=op.f("fk_pairings_physician_id_platform_identities"),
        ),
        sa.PrimaryKeyConstraint("pairing_id", name=op.f("pk_pairings")),
    )
    op.create_index(op.f("ix_pairings_patient_id"), "pairings", ["patient_id"], unique=False)
    op.create_index(op.f("ix_pairings_physician_id"), "pairings", ["physician_id"], unique=False)
    op.create_table(
        "pending_parts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("part_index", sa.Integer(), nullable=False),
        sa.Column("part_count", sa.Integer(), nullable=False),
        sa.Column("chunk", sa.LargeBinary(), nullable=False),
        sa.Column("sender_id", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "part_index >= 0 AND part_index < part_count", name=op.f("ck_pending_parts_index_range")
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"],
            ["platform_identities.id"],
            name=op.f("fk_pending_parts_sender_id_platform_identities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_parts")),
        sa.UniqueConstraint(
            "sender_id",
            "group_id",
            "part_index",
            name=op.f("uq_pending_parts_sender_id_group_id_part_index"),
        ),
    )
    op.create_index(
        op.f("ix_pending_parts_received_at"), "pending_parts", ["received_at"], unique=False
    )
    op.create_index(
        op.f("ix_pending_parts_sender_id"), "pending_parts", ["sender_id"], unique=False
    )
    op.create_table(
        "epochs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pairing_id", sa.String(length=32), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shredded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('active', 'retired', 'shredded')", name=op.f("ck_epochs_state")
        ),
        sa.CheckConstraint("epoch >= 0", name=op.f("ck_epochs_epoch")),
        sa.ForeignKeyConstraint(
            ["pairing_id"],
            ["pairings.pairing_id"],
            name=op.f("fk_epochs_pairing_id_pairings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_epochs")),
        sa.UniqueConstraint("pairing_id", "epoch", name=op.f("uq_epochs_pairing_id_epoch")),
    )
    op.create_table(
        "escrow_deposits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pairing_id", sa.String(length=32), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("direction", sa.SmallInteger(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("deposited_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("direction IN (0, 1)", name=op.f("ck_escrow_deposits_direction")),
        sa.ForeignKeyConstraint(
            ["pairing_id"],
            ["pairings.pairing_id"],
            name=op.f("fk_escrow_deposits_pairing_id_pairings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escrow_deposits")),
        sa.UniqueConstraint(
            "pairing_id",
            "epoch",
            "direction",
            name=op.f("uq_escrow_deposits_pairing_id_epoch_direction"),
        ),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dest_identity_id", sa.String(length=32), nullable=False),
        sa.Column("origin_identity_id", sa.String(length=32), nullable=True),
        sa.Column("pairing_id", sa.String(length=32), nullable=True),
        sa.Column("payload_kind", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("platform_message_id", sa.String(length=128), nullable=True),
        sa.Column("last_error_code", sa.String(length=64), nullable=True),
        sa.Column("dedupe_key", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "payload_kind IN ('text', 'document', 'template', 'notice')",
            name=op.f("ck_outbox_payload_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'delivered', 'failed')",
            name=op.f("ck_outbox_status"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_attempts")),
        sa.ForeignKeyConstraint(
            ["dest_identity_id"],
            ["platform_identities.id"],
            name=op.f("fk_outbox_dest_identity_id_platform_identities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["origin_identity_id"],
            ["platform_identities.id"],
            name=op.f("fk_outbox_origin_identity_id_platform_identities"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["pairing_id"],
            ["pairings.pairing_id"],
            name=op.f("fk_outbox_pairing_id_pairings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_dedupe_key")),
    )
    op.create_index(
        op.f("ix_outbox_dest_identity_id"), "outbox", ["dest_identity_id"], unique=False
    )
    op.create_index(op.f("ix_outbox_pairing_id"), "outbox", ["pairing_id"], unique=False)
    op.create_index(
        op.f("ix_outbox_platform_message_id"), "outbox", ["platform_message_id"], unique=False
    )
    op.create_index(
        op.f("ix_outbox_status_next_attempt_at"),
        "outbox",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_table(
        "media_blobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("pairing_id", sa.String(length=32), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("path", sa.String(length=512), nullable=True),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("url_token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pairing_id", "epoch"],
            ["epochs.pairing_id", "epochs.epoch"],
            name=op.f("fk_media_blobs_pairing_id_epoch_epochs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_blobs")),
        sa.UniqueConstraint("url_token_hash", name=op.f("uq_media_blobs_url_token_hash")),
    )
    op.create_index(op.f("ix_media_blobs_expires_at"), "media_blobs", ["expires_at"], unique=False)
    op.create_table(
        "stored_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pairing_id", sa.String(length=32), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("direction", sa.SmallInteger(), nullable=False),
        sa.Column("msg_index", sa.Integer(), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("direction IN (0, 1)", name=op.f("ck_stored_tokens_direction")),
        sa.ForeignKeyConstraint(
            ["pairing_id", "epoch"],
            ["epochs.pairing_id", "epochs.epoch"],
            name=op.f("fk_stored_tokens_pairing_id_epoch_epochs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_tokens")),
    )
    op.create_index(
        op.f("ix_stored_tokens_pairing_id_epoch_direction_msg_index"),
        "stored_tokens",
        ["pairing_id", "epoch", "direction", "msg_index"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_stored_tokens_pairing_id_epoch_direction_msg_index"), table_name="stored_tokens"
    )
    op.drop_table("stored_tokens")
    op.drop_index(op.f("ix_media_blobs_expires_at"), table_name="media_blobs")
    op.drop_table("media_blobs")
    op.drop_index(op.f("ix_outbox_status_next_attempt_at"), table_name="outbox")
    op.drop_index(op.f("ix_outbox_platform_message_id"), table_name="outbox")
    op.drop_index(op.f("ix_outbox_pairing_id"), table_name="outbox")
    op.drop_index(op.f("ix_outbox_dest_identity_id"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("escrow_deposits")
    op.drop_table("epochs")
    op.drop_index(op.f("ix_pending_parts_sender_id"), table_name="pending_parts")
    op.drop_index(op.f("ix_pending_parts_received_at"), table_name="pending_parts")
    op.drop_table("pending_parts")
    op.drop_index(op.f("ix_pairings_physician_id"), table_name="pairings")
    op.drop_index(op.f("ix_pairings_patient_id"), table_name="pairings")
    op.drop_table("pairings")
    op.drop_index(op.f("ix_clinic_admins_platform_address_bidx"), table_name="clinic_admins")
    op.drop_index(op.f("ix_clinic_admins_identity_id"), table_name="clinic_admins")
    op.drop_table("clinic_admins")
    op.drop_table("platform_identities")
    op.drop_index(op.f("ix_inbound_keys_received_at"), table_name="inbound_keys")
    op.drop_table("inbound_keys")
