"""``medcrypt-bot``: one entry point, one module per subcommand family.

Each module in :data:`COMMAND_MODULES` exposes ``register(subparsers)``, adding its
parsers with ``set_defaults(handler=...)``; a handler takes ``(args, settings)`` and
returns an exit status. Errors of the project's hierarchy become one line on stderr
and the family's exit code (README.md lists them); nothing prints a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from medcrypt.crypto.errors import MedCryptError

#: Subcommand modules, in help order. Adding a family = adding its module here.
COMMAND_MODULES: tuple[str, ...] = (
    "medcrypt.bot.cli.doctor",
    "medcrypt.bot.cli.migrate",
    "medcrypt.bot.cli.keys",
    "medcrypt.bot.cli.run",
    "medcrypt.bot.cli.demo",
    "medcrypt.bot.cli.audit",
    "medcrypt.bot.cli.jobs",
    "medcrypt.bot.cli.escrow",
    "medcrypt.bot.cli.breakglass",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medcrypt-bot",
        description="MedCrypt bridge clinic bot: relays end-to-end encrypted tokens only.",
    )
    parser.add_argument(
        "--config",
        default=os.environ.get("MEDCRYPT_CONFIG"),
        help="TOML config file (default: $MEDCRYPT_CONFIG, else embedded defaults)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # family not built yet; every other import error is real
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from medcrypt.bot.app.logs import setup_logging
    from medcrypt.bot.domain.config import load_settings

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        settings = load_settings(args.config)
        setup_logging(settings)
        status: int = args.handler(args, settings)
    except MedCryptError as exc:
        print(f"medcrypt-bot: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("medcrypt-bot: interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
