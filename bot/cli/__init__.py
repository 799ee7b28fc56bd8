"""``medcrypt-bot``: one entry point, one module per subcommand family.

Each family module exposes ``register(subparsers)``, adding its parsers with
``set_defaults(handler=...)``; a handler takes ``(args, settings)`` and returns an exit
status. Whatever a handler raises ends here, in the one top-level handler: one line on
stderr naming the cause, and the family's exit code (README.md lists them,
:mod:`crypto.failures` maps them). A traceback only with ``--debug``, for whoever
has to dig - under systemd's ``Restart=always`` a traceback per restart buries the
cause in the journal.

Building the parser must stay cheap (``medcrypt-bot --help`` is what an operator runs
first): the family modules import only the standard library, the config and the error
hierarchy at module level, and their handlers import the bot, the database and the
platform clients when they run. tests/operator/cli/test_lazy_imports.py holds that
line; bench/bench_help.py measures it.

``--config`` and ``--debug`` are accepted before and after the subcommand. The copies
on the subcommands default to :data:`argparse.SUPPRESS`: with any other default, the
subparser writes its default over the value given before the subcommand, and a
``--config`` given first would be dropped without a word.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType

from medcrypt.crypto.failures import describe

PROG = "medcrypt-bot"
DIST = "medcrypt-bridge"
DEBUG_HINT = "rerun with --debug for the traceback"


def command_modules() -> tuple[ModuleType, ...]:
    """The subcommand families, in help order. Adding a family = adding its module here."""
    from medcrypt.bot.cli import (
        audit,
        backup,
        breakglass,
        cluster,
        config,
        demo,
        doctor,
        escrow,
        jobs,
        keys,
        migrate,
        physicians,
        run,
    )

    return (doctor, migrate, keys, run, cluster, demo, audit, jobs, escrow, breakglass,
            physicians, backup, config)


def version() -> str:
    """The installed distribution's version (``importlib.metadata``, no import of it)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version(DIST)
    except PackageNotFoundError:
        return "unknown (not installed)"


def _shared_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    if "--config" not in parser._option_string_actions:
        parser.add_argument(
            "--config", metavar="FILE",
            default=os.environ.get("MEDCRYPT_CONFIG") if top else argparse.SUPPRESS,
            help="TOML config file (default: $MEDCRYPT_CONFIG, else embedded defaults)"
            if top else "TOML config file (also accepted before the command)")
    if "--debug" not in parser._option_string_actions:
        parser.add_argument("--debug", action="store_true",
                            default=False if top else argparse.SUPPRESS,
                            help="print the traceback of a failure")


def _every_subparser(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases share a parser
                found.append(child)
                found += _every_subparser(child)
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="MedCrypt bridge clinic bot: relays end-to-end encrypted tokens only.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    _shared_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in command_modules():
        module.register(sub)
    for child in _every_subparser(parser):
        _shared_options(child, top=False)
    return parser


def _report(exc: BaseException, debug: bool) -> int:
    failure = describe(exc, debug_hint=DEBUG_HINT)
    if debug and not isinstance(exc, KeyboardInterrupt):
        traceback.print_exception(exc, file=sys.stderr)
    print(f"{PROG}: {failure.message}", file=sys.stderr, flush=True)
    return failure.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    from medcrypt.bot.cli.install_check import INSTALL_HINT, missing_bot_dependencies

    # A companion-only install (no [bot] extra) has this script too: one line, not a
    # traceback from the first missing import.
    if missing_bot_dependencies():
        print(INSTALL_HINT, file=sys.stderr)
        return 2

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        from medcrypt.bot.app.logs import setup_logging
        from medcrypt.bot.domain.config import load_settings

        settings = load_settings(args.config)
        setup_logging(settings)
        status: int = args.handler(args, settings)
    except (Exception, KeyboardInterrupt) as exc:
        return _report(exc, args.debug)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
