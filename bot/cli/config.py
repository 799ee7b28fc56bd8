"""``medcrypt-bot config example``: the documented configuration, from the package itself.

An installed wheel has no checkout to copy ``config.example.toml`` from, so the file
ships inside the package (``medcrypt/bot/config.example.toml``; the repository's top-level
``config.example.toml`` is a symlink to it) and this command prints it byte for byte.
The operator redirects it into place: ``medcrypt-bot config example > bot.toml``.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from medcrypt.bot.domain.config import Settings

#: The package-data file the wheel carries (pyproject.toml, [tool.setuptools.package-data]).
EXAMPLE_RESOURCE = "config.example.toml"


def example_text() -> str:
    """The shipped example, read from the installed package (never from the working dir)."""
    return resources.files("medcrypt.bot").joinpath(EXAMPLE_RESOURCE).read_text("utf-8")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("config", help="the configuration file: print the example")
    sub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    ex = sub.add_parser(
        "example", help="print the shipped config.example.toml (every setting, documented)")
    ex.set_defaults(handler=print_example)


def print_example(args: argparse.Namespace, settings: Settings) -> int:
    sys.stdout.write(example_text())
    sys.stdout.flush()
    return 0
