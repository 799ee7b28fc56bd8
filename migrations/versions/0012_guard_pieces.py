"""The plaintext guard waits for the pieces of a split paste, and withdraws them later.

Why (issue 12, item 7): Telegram clients cut a paste longer than 4096 characters into
several messages, and the guard must not delete the pieces of a token before the rest
had a chance to arrive - only pieces not rejoined within a few seconds are guarded.

* ``pending_fragments``: the pieces of an unfinished paste (token base64 only), one run
  per sender, pruned once stale.
* ``outbox.payload_kind`` gains ``withdraw``: remove a message the recipient sent from
  their own chat. The guard queues these due at the end of the window and cancels them
  when the paste completes, so the decision survives a restart.

Downgrade drops the table, and any ``withdraw`` row (nothing an older bot could send).

Revision ID: 0012_guard_pieces
Revises: 0011_pairing_shredded_at
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_guard_pieces"
down_revision: str | None = "0011_pairing_shredded_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_KINDS = "payload_kind IN ('text', 'document', 'template', 'notice')"
_NEW_KINDS = "payload_kind IN ('text', 'document', 'template', 'notice', 'withdraw')"


def upgrade() -> None:
    op.create_table(
        "pending_fragments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("text", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sender_id"], ["platform_identities.id"],
            name=op.f("fk_pending_fragments_sender_id_platform_identities"),
            ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_fragments")),
        sa.UniqueConstraint("sender_id", "run_id", "seq",
                            name=op.f("uq_pending_fragments_sender_id_run_id_seq")),
    )
    op.create_index(op.f("ix_pending_fragments_received_at"), "pending_fragments",
                    ["received_at"], unique=False)
    op.create_index(op.f("ix_pending_fragments_sender_id"), "pending_fragments",
                    ["sender_id"], unique=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_payload_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_outbox_payload_kind"), _NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE payload_kind = 'withdraw'")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_payload_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_outbox_payload_kind"), _OLD_KINDS)
    op.drop_table("pending_fragments")  # drops its indexes with it
