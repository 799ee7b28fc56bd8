"""``medcrypt-bot demo``: the README's main job - the whole story on loopback.

The demo and the sandbox it drives live in a checkout (``demo/``, ``sandbox/``), never
in the wheel a clinic installs (ADR 0007). The bot therefore does not import the demo:
this command looks the package up by name when it runs, and an installed wheel without
it gets one line and exit 2 instead of a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from typing import Any

from medcrypt.bot.domain.config import Settings

#: Where the story lives; present in a checkout and an editable install only.
DEMO_MODULE = "medcrypt.demo.story"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo", help="run the narrated end-to-end demo (needs a checkout: sandbox platforms)")
    p.add_argument("--break-glass", dest="break_glass", default="auto",
                   choices=("auto", "chat", "functions"),
                   help="how the admins drive break-glass: the /breakglass and /approve chat "
                        "commands, the functions those commands call, or chat when the "
                        "commands are registered (default)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if importlib.util.find_spec("medcrypt.demo") is None:
        print("medcrypt-bot: the demo needs a checkout of the repository "
              "(it is not part of the installed package)", file=sys.stderr)
        return 2
    story = importlib.import_module(DEMO_MODULE)
    status: int = story.run_demo(break_glass=args.break_glass)
    return status
