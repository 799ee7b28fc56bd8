"""``medcrypt-bot demo``: the README's main job - the whole story on loopback."""

from __future__ import annotations

import argparse
from typing import Any

from bot.config import Settings


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo", help="run the narrated end-to-end demo (sandbox platforms, temp database)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.demo import run_demo

    return run_demo()
