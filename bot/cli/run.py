"""``medcrypt-bot run``: the real bot - both adapters, the outbox worker, the webhooks.

Before anything is served, the database is reached (writable, schema at head) and the
Telegram Bot API answers, each retried with backoff as ``[startup]`` configures
(:mod:`bot.app.startup`); a start that still fails ends with one line and the exit code
of its cause (6 database, 5 platform, 2 configuration). Runs until SIGINT/SIGTERM, then
stops accepting, lets in-flight sends finish and exits 0. A hard kill at any point loses
nothing: accepted messages are committed with their outbox rows before the platform is
answered, and the outbox resumes on start.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from medcrypt.bot.domain.config import Settings


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("run", help="run the bot (Telegram, WhatsApp, outbox worker)")
    p.set_defaults(handler=run)


async def _main(settings: Settings) -> None:
    from medcrypt.bot.app.bot import BotApp
    from medcrypt.bot.app.startup import RetryPolicy, reach_database

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    policy = RetryPolicy.of(settings.startup)
    await reach_database(settings, policy)
    app = BotApp(settings, auto_migrate=False, startup=policy)
    try:
        await app.start()  # a start that fails half-way is stopped as well
        print("medcrypt-bot: running (Ctrl-C to stop)", flush=True)
        await stop.wait()
    finally:
        await app.stop()


def run(args: argparse.Namespace, settings: Settings) -> int:
    asyncio.run(_main(settings))
    return 0
