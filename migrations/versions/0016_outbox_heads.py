"""``outbox_heads``: one row per recipient naming the outbox row its queue waits on.

The claim used to group every unfinished outbox row by recipient on each call, so its
cost per row grew with the backlog (0.089 ms at 2k rows, 0.689 ms at 30k on 06f4938);
it now reads due heads from a small index (ADR 0024). Two partial indexes on ``outbox``
serve the rest: the lowest blocking row of one recipient (advancing a head) and the due
WhatsApp templates (claimed outside the heads). Existing queues get their heads here,
so rows pending at upgrade time go out in the same order as before.

Also ``audit_head.erasures``: a count of erased audit subjects, read with the head lock
by every append, so a writer may keep subject keys in memory and still never use one
that another process erased (the cheaper audit append of the same issue).

Revision ID: 0016_outbox_heads
Revises: 0015_v3_pairing_admission
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_outbox_heads"
down_revision: str | None = "0015_v3_pairing_admission"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BLOCKING = "status IN ('pending', 'sending', 'held') AND payload_kind != 'template'"
_TEMPLATES_DUE = "status = 'pending' AND payload_kind = 'template'"


def upgrade() -> None:
    op.create_table(
        "outbox_heads",
        sa.Column("dest_identity_id", sa.String(length=32), nullable=False),
        sa.Column("head_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dest_identity_id"], ["platform_identities.id"],
            name=op.f("fk_outbox_heads_dest_identity_id_platform_identities"),
            ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("dest_identity_id", name=op.f("pk_outbox_heads")),
    )
    op.create_index(op.f("ix_outbox_heads_due_at_head_id"), "outbox_heads",
                    ["due_at", "head_id"], unique=False)
    op.create_index("ix_outbox_blocking_dest_id", "outbox", ["dest_identity_id", "id"],
                    unique=False, postgresql_where=sa.text(_BLOCKING),
                    sqlite_where=sa.text(_BLOCKING))
    # The old claim's (dest, status) index goes: every status change paid for it, and
    # what still asks by recipient and status reads the partial index above.
    op.drop_index("ix_outbox_dest_identity_id_status", table_name="outbox")
    op.create_index("ix_outbox_templates_due", "outbox", ["next_attempt_at", "id"],
                    unique=False, postgresql_where=sa.text(_TEMPLATES_DUE),
                    sqlite_where=sa.text(_TEMPLATES_DUE))
    with op.batch_alter_table("audit_head") as batch_op:
        batch_op.add_column(sa.Column("erasures", sa.BigInteger(), nullable=False,
                                      server_default="0"))
    op.execute(
        "INSERT INTO outbox_heads (dest_identity_id, head_id, due_at) "
        "SELECT o.dest_identity_id, o.id, "
        "CASE WHEN o.status = 'pending' THEN o.next_attempt_at END FROM outbox o "
        "WHERE o.id IN (SELECT min(id) FROM outbox WHERE status IN "
        "('pending', 'sending', 'held') AND payload_kind != 'template' "
        "GROUP BY dest_identity_id)")


def downgrade() -> None:
    with op.batch_alter_table("audit_head") as batch_op:
        batch_op.drop_column("erasures")
    op.drop_index("ix_outbox_templates_due", table_name="outbox")
    op.drop_index("ix_outbox_blocking_dest_id", table_name="outbox")
    op.create_index("ix_outbox_dest_identity_id_status", "outbox",
                    ["dest_identity_id", "status"], unique=False)
    op.drop_index(op.f("ix_outbox_heads_due_at_head_id"), table_name="outbox_heads")
    op.drop_table("outbox_heads")
