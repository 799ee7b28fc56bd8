"""``medcrypt-bot``: one entry point, one module per subcommand family.

Each family module exposes ``register(subparsers)``, adding its parsers with
``set_defaults(handler=...)``; a handler takes ``(args, settings)`` and returns an exit
status. Errors of the project's hierarchy become one line on stderr and the family's
exit code (README.md lists them); nothing prints a traceback.

The families are imported when the parser is built, not when this package is: importing
one family (``medcrypt.bot.cli.jobs``) does not load the bot. A family that fails to
import fails the command loudly - nothing is skipped.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from medcrypt.crypto.errors import MedCryptError


def command_modules() -> tuple[ModuleType, ...]:
    """The subcommand families, in help order. Adding a family = adding its module here."""
    from medcrypt.bot.cli import (
        audit,
        backup,
        breakglass,
        config,
        demo,
        doctor,
        escrow,
        jobs,
        keys,
        migrate,
        run,
    )

    return (doctor, migrate, keys, run, demo, audit, jobs, escrow, breakglass, backup, config)


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
    for module in command_modules():
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from medcrypt.bot.cli.install_check import INSTALL_HINT, missing_bot_dependencies

    # A companion-only install (no [bot] extra) has this script too: one line, not a
    # traceback from the first missing import.
    if missing_bot_dependencies():
        print(INSTALL_HINT, file=sys.stderr)
        return 2

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
