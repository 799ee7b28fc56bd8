"""``medcrypt-bot cluster status``: the replicas, who holds which role, the outbox backlog.

Reads the database only (no keyring, no platform): an operator can run it from any
host that reaches the database. See docs/OPERATIONS.md, "Several replicas".
"""

from __future__ import annotations

import argparse
from typing import Any

from medcrypt.bot.domain.config import Settings


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("cluster", help="replicas on one PostgreSQL: who runs what")
    sub = p.add_subparsers(dest="cluster_command", metavar="ACTION", required=True)
    st = sub.add_parser("status", help="replicas, role holders (epoch, lease age), backlog")
    st.set_defaults(handler=status)


def status(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    from medcrypt.bot.domain import cluster
    from medcrypt.storage.db import is_sqlite, make_engine, session_factory

    engine = make_engine(settings.database_url)
    try:
        postgres = not is_sqlite(engine)
        with session_factory(engine)() as session:
            view = cluster.read(session, postgres=postgres)
        print(cluster.format_view(view, datetime.now(UTC), postgres=postgres))
    finally:
        engine.dispose()
    return 0
