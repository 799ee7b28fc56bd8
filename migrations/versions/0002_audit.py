"""Audit log: hash-chained entries, signed checkpoints, per-subject keys, head row.

Written by hand against storage/models/audit.py with plain SQLAlchemy types (a
migration must not import application code that later changes). The head row (id 1,
seq 0, the all-zero genesis hash) is created here, so the first append only has to
lock it; the repository still creates it when missing (databases built with
``create_all`` in tests).

Revision ID: 0002_audit
Revises: 0001_initial
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_audit"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("seq", _SEQ, autoincrement=False, nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.Column("actor_ref", sa.String(length=48), nullable=False),
        sa.Column("subject_ref", sa.String(length=48), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("details", sa.LargeBinary(), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("entry_hash", sa.LargeBinary(length=32), nullable=False),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_audit_entries_seq_positive")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_entries")),
    )
    op.create_index(
        op.f("ix_audit_entries_subject_ref"), "audit_entries", ["subject_ref"], unique=False
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", _SEQ, autoincrement=False, nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("key_id", sa.LargeBinary(length=8), nullable=False),
        sa.Column("prev_sig", sa.LargeBinary(length=64), nullable=False),
        sa.Column("sig", sa.LargeBinary(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_checkpoints")),
    )
    op.create_table(
        "audit_subject_keys",
        sa.Column("subject_ref", sa.String(length=48), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("subject_ref", name=op.f("pk_audit_subject_keys")),
    )
    op.create_table(
        "audit_secrets",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_audit_secrets")),
    )
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("checkpoint_seq", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint_ts_us", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint_sig", sa.LargeBinary(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_singleton")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.bulk_insert(head, [{
        "id": 1, "seq": 0, "entry_hash": bytes(32), "checkpoint_seq": 0,
        "checkpoint_ts_us": 0, "checkpoint_sig": b"",
    }])


def downgrade() -> None:
    op.drop_table("audit_head")
    op.drop_table("audit_secrets")
    op.drop_table("audit_subject_keys")
    op.drop_table("audit_checkpoints")
    op.drop_index(op.f("ix_audit_entries_subject_ref"), table_name="audit_entries")
    op.drop_table("audit_entries")
