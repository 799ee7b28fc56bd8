"""``medcrypt-bot migrate [--to REV]``: bring the database schema to a revision.

Upgrades to the newest revision by default. A target older than the current revision
is a downgrade and must be asked for explicitly with ``--allow-downgrade``: dropping
tables by typo is not something a migration command should do quietly.
"""

from __future__ import annotations

import argparse
from typing import Any

from medcrypt.bot.domain.config import Settings
from medcrypt.crypto.errors import StorageError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("migrate", help="upgrade the database schema (default: to head)")
    p.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE",
                   help="TOML config file (also accepted before the command)")
    p.add_argument("--to", default="head", metavar="REV", help="target revision (default head)")
    p.add_argument(
        "--allow-downgrade", action="store_true",
        help="permit a target older than the current revision (drops data)",
    )
    p.set_defaults(handler=run)


def _is_downgrade(current: str | None, target: str) -> bool:
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError
    from alembic.util.exc import CommandError

    from medcrypt.storage import migrate

    if target == "base":
        return current is not None
    if current is None or target in ("head", "heads"):
        return False
    script = ScriptDirectory.from_config(migrate.alembic_config())
    try:
        script.get_revision(target)
    except (RevisionError, CommandError):
        raise StorageError(f"unknown revision {target!r}") from None
    ancestors = {rev.revision for rev in script.walk_revisions(base="base", head=current)}
    return target in ancestors and target != current


def run(args: argparse.Namespace, settings: Settings) -> int:
    from medcrypt.storage import migrate

    url = settings.database_url
    before = migrate.current(url)
    if _is_downgrade(before, args.to):
        if not args.allow_downgrade:
            raise StorageError(
                f"{args.to!r} is older than the current revision {before!r}; "
                "pass --allow-downgrade to drop the newer schema"
            )
        migrate.downgrade(url, args.to)
    else:
        migrate.upgrade(url, args.to)
    after = migrate.current(url)
    print(f"database schema: {before or 'empty'} -> {after or 'empty'} (head {migrate.head()})")
    return 0
