"""``medcrypt-bot run``: the real bot - both adapters, the outbox worker, the webhooks.

Before anything is served, the database is reached (writable, schema at head) and the
Telegram Bot API answers, each retried with backoff as ``[startup]`` configures
(:mod:`bot.app.startup`); a start that still fails ends with one line and the exit code
of its cause (6 database, 5 platform, 2 configuration). Runs until SIGINT/SIGTERM, then
stops accepting, lets in-flight sends finish and exits 0. A hard kill at any point loses
nothing: accepted messages are committed with their outbox rows before the platform is
answered, and the outbox resumes on start.

On SQLite a second ``run`` on the same database file is refused (exit 6) by a lock file
(:mod:`bot.app.singleton`); ``jobs run``, ``migrate`` and the other tools are not. On
PostgreSQL any number of ``run`` processes share the work (ADR 0032).
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
    from medcrypt.bot.app import singleton
    from medcrypt.bot.app.bot import BotApp
    from medcrypt.bot.app.startup import RetryPolicy, reach_database
    from medcrypt.storage.db import sqlite_file

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    policy = RetryPolicy.of(settings.startup)
    await reach_database(settings, policy)  # a missing or read-only file fails here first
    database = sqlite_file(settings.database_url)
    lock = (singleton.acquire(database)
            if database and database != ":memory:" else None)
    try:
        app = BotApp(settings, auto_migrate=False, startup=policy)
        try:
            await app.start()  # a start that fails half-way is stopped as well
            print("medcrypt-bot: running (Ctrl-C to stop)", flush=True)
            await stop.wait()
        finally:
            await app.stop()
    finally:
        if lock is not None:
            lock.release()


def run(args: argparse.Namespace, settings: Settings) -> int:
    asyncio.run(_main(settings))
    return 0
