"""Every other sealed column onto the key tree (issue 17, docs/adr/0037-key-tree.md,
Amendment 1): ``dek_id`` / ``dek_version`` on ``clinic_admins``, ``breakglass_requests``,
``audit_subject_keys`` and ``audit_secrets``, as 0021 gave ``platform_identities``.

Schema only, like 0021: converting a value needs the server keys and the key provider,
which ``medcrypt-bot migrate`` does not hold. v1 values keep opening through the keyring;
``medcrypt-bot keys rewrap`` (batched, resumable, idempotent) re-seals them under their
DEK and fills the columns (tests/keytree/test_purpose_migration.py upgrades an old
database and converts it).

Downgrade refuses while any of these values is tree-sealed (it would strand them).

Revision ID: 0023_purpose_deks
Revises: 0022_send_pacing
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_purpose_deks"
down_revision: str | None = "0022_send_pacing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("clinic_admins", "breakglass_requests", "audit_subject_keys", "audit_secrets")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        fk = f"fk_{table}_dek_id_deks"
        # In place on both backends (see 0021): SQLite's ADD COLUMN takes a REFERENCES
        # clause when the column defaults to NULL, so no batch rebuild of the table.
        if sqlite:
            op.execute(f"ALTER TABLE {table} ADD COLUMN dek_id VARCHAR(32) "
                       f"CONSTRAINT {fk} REFERENCES deks (id)")
        else:
            op.add_column(table, sa.Column("dek_id", sa.String(length=32), nullable=True))
            op.create_foreign_key(op.f(fk), table, "deks", ["dek_id"], ["id"])
        op.add_column(table, sa.Column("dek_version", sa.Integer(), nullable=True))
        op.create_index(op.f(f"ix_{table}_dek_id"), table, ["dek_id"])
        op.create_index(op.f(f"ix_{table}_dek_version"), table, ["dek_version"])


def downgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        sealed = bind.execute(sa.text(
            f"SELECT count(*) FROM {table} WHERE dek_id IS NOT NULL")).scalar()  # noqa: S608 - fixed names
        if sealed:
            raise RuntimeError(f"{sealed} {table} value(s) are sealed under the key tree: "
                               "downgrading past 0023 would strand them")
    for table in TABLES:
        op.drop_index(op.f(f"ix_{table}_dek_version"), table_name=table)
        op.drop_index(op.f(f"ix_{table}_dek_id"), table_name=table)
        if bind.dialect.name == "postgresql":
            op.drop_constraint(op.f(f"fk_{table}_dek_id_deks"), table, type_="foreignkey")
        op.drop_column(table, "dek_version")
        op.drop_column(table, "dek_id")  # SQLite: the REFERENCES goes with it
