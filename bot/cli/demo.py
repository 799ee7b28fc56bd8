"""``medcrypt-bot demo``: the README's main job - the whole story on loopback."""

from __future__ import annotations

import argparse
from typing import Any

from bot.config import Settings


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo", help="run the narrated end-to-end demo (sandbox platforms, temp database)")
    p.add_argument("--break-glass", dest="break_glass", default="auto",
                   choices=("auto", "chat", "functions"),
                   help="how the admins drive break-glass: the /breakglass and /approve chat "
                        "commands, the functions those commands call, or chat when the "
                        "commands are registered (default)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.demo import run_demo

    return run_demo(break_glass=args.break_glass)
