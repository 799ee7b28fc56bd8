"""The key tree (issue 17, docs/adr/0037-key-tree.md): ``keks``, ``deks`` and the
per-person DEK reference of ``platform_identities``.

Schema only, by design: converting a sealed value needs the server keys and the key
provider, which a migration does not hold (``medcrypt-bot migrate`` runs without them).
Existing v1 values keep opening through the keyring; ``medcrypt-bot keys rewrap`` - run
after this upgrade, batched and resumable - re-seals them under each person's new DEK
and fills ``dek_id`` / ``dek_version`` (tests/storage/test_keytree_migration.py upgrades
an old database and converts it).

Downgrade refuses while any value is tree-sealed (it would strand them); on a database
with none it drops the columns and tables.

Revision ID: 0021_key_tree
Revises: 0020_identity_language
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_key_tree"
down_revision: str | None = "0020_identity_language"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "keks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("root_version", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(length=8192), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_keks")),
    )
    op.create_table(
        "deks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=True),
        sa.Column("kek_id", sa.String(length=32), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["kek_id"], ["keks.id"], name=op.f("fk_deks_kek_id_keks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deks")),
    )
    op.create_index("ix_deks_person_id", "deks", ["person_id"])
    # In place on both backends (see 0020): SQLite's ADD COLUMN takes a REFERENCES clause
    # when the column defaults to NULL, so no batch rebuild of a referenced table.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE platform_identities ADD COLUMN dek_id VARCHAR(32) "
                   "CONSTRAINT fk_platform_identities_dek_id_deks REFERENCES deks (id)")
    else:
        op.add_column("platform_identities",
                      sa.Column("dek_id", sa.String(length=32), nullable=True))
        op.create_foreign_key(op.f("fk_platform_identities_dek_id_deks"),
                              "platform_identities", "deks", ["dek_id"], ["id"])
    op.add_column("platform_identities",
                  sa.Column("dek_version", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_platform_identities_dek_id"), "platform_identities", ["dek_id"])
    op.create_index(op.f("ix_platform_identities_dek_version"), "platform_identities",
                    ["dek_version"])


def downgrade() -> None:
    bind = op.get_bind()
    sealed = bind.execute(sa.text(
        "SELECT count(*) FROM platform_identities WHERE dek_id IS NOT NULL")).scalar()
    if sealed:
        raise RuntimeError(f"{sealed} identities are sealed under the key tree: downgrading "
                           "past 0021 would strand them")
    op.drop_index(op.f("ix_platform_identities_dek_version"), table_name="platform_identities")
    op.drop_index(op.f("ix_platform_identities_dek_id"), table_name="platform_identities")
    if bind.dialect.name == "postgresql":
        op.drop_constraint(op.f("fk_platform_identities_dek_id_deks"), "platform_identities",
                           type_="foreignkey")
    op.drop_column("platform_identities", "dek_version")
    op.drop_column("platform_identities", "dek_id")  # SQLite: the REFERENCES goes with it
    op.drop_index("ix_deks_person_id", table_name="deks")
    op.drop_table("deks")
    op.drop_table("keks")
