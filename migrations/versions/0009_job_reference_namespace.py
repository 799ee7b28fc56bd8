"""Stored scheduler jobs name their function under the medcrypt namespace (issue 11).

The data-only job store keeps a ``module:function`` reference per job and rebuilds a
job only when that reference is on the bot's allow-list. The project's modules are now
imported as ``medcrypt.…`` and the scheduler lives in ``medcrypt.bot.scheduler.runner``,
so rows written before this release would be refused and parked at the next start.
This rewrites exactly the one reference the bot ever stored; any other value stays as
it is (the store refuses it, as before). The downgrade writes the old name back.

Revision ID: 0009_job_reference_namespace
Revises: 0008_relay_on_storage
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_job_reference_namespace"
down_revision: str | None = "0008_relay_on_storage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "bot.jobs.scheduler:scheduled"
NEW = "medcrypt.bot.scheduler.runner:scheduled"
_JOBS = sa.table("scheduler_jobs", sa.column("func_ref", sa.String(128)))


def upgrade() -> None:
    op.execute(_JOBS.update().where(_JOBS.c.func_ref == OLD).values(func_ref=NEW))


def downgrade() -> None:
    op.execute(_JOBS.update().where(_JOBS.c.func_ref == NEW).values(func_ref=OLD))
