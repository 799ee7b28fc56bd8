"""``medcrypt-bot run``: the real bot - both adapters, the outbox worker, the webhooks.

Runs until SIGINT/SIGTERM, then stops accepting, lets in-flight sends finish and
exits 0. A hard kill at any point loses nothing: accepted messages are committed with
their outbox rows before the platform is answered, and the outbox resumes on start.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from medcrypt.bot.app.bot import BotApp
from medcrypt.bot.domain.config import Settings


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("run", help="run the bot (Telegram, WhatsApp, outbox worker)")
    p.set_defaults(handler=run)


async def _main(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    app = BotApp(settings)
    print("medcrypt-bot: running (Ctrl-C to stop)", flush=True)
    await app.run_until(stop)


def run(args: argparse.Namespace, settings: Settings) -> int:
    asyncio.run(_main(settings))
    return 0
