"""Relay intake CPU per message: PostgreSQL against SQLite, same run (issue 18).

The bot (:class:`BotApp`, no platforms) takes ``--messages`` tokens through
``intake.accept`` - identity lookup, guards, the stored token, the outbox row and its
head, the audit entry, one commit - on each backend in turn, alternating rounds, and
prints the median of this process's CPU per message (``resource.getrusage``: the
database server's work is not the bot's), with the statements per message counted by
an engine listener. The goal: PostgreSQL within 2x of SQLite.

    python -m bench.run intake --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import base64
import os
import resource
import secrets
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event

from bench.harness import load_average
from bench.scratch_db import postgres_database
from medcrypt.bot.app.bot import BotApp
from medcrypt.bot.app.logs import setup_logging
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.messages import Platform
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.crypto.keyless.wire import (
    Direction,
    Kind,
    encode_accept,
    encode_register,
    encode_sealed_header,
    encode_token,
)
from medcrypt.storage import migrate

PAIRS = 20


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@contextmanager
def _database(backend: str, tmp: Path, pg_url: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / f'intake-{secrets.token_hex(4)}.db'}"
        return
    with postgres_database(pg_url) as url:
        yield url


class _Intake:
    """A bot with paired conversations, ready to take tokens."""

    def __init__(self, url: str) -> None:
        migrate.upgrade(url)
        settings = parse_settings({
            "database": {"url": url}, "logging": {"level": "WARNING"},
            "telegram": {"enabled": False}, "whatsapp": {"enabled": False},
            "relay": {"user_messages_per_minute": 0}})
        setup_logging(settings)
        self.bot = BotApp(settings, environ={
            "MEDCRYPT_SERVER_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode()})
        self.statements = 0
        event.listen(self.bot.engine, "before_cursor_execute", self._count)
        self.pids = [os.urandom(16) for _ in range(PAIRS)]
        expires = int(datetime.now(UTC).timestamp()) + 3600
        for i, pid in enumerate(self.pids):
            self._accept(str(8_000_001 + i), f"r{i}", encode_token(encode_register(
                pid, epoch_of(datetime.now(UTC)), 7, expires)))
            self.bot.intake.accept(
                platform=Platform.WHATSAPP, address=f"whatsapp:+1555{i:07d}",
                dedupe_key=f"a{i}", text=encode_token(encode_accept(pid, b"\x01" + os.urandom(96))))
        self.n = 0

    def _count(self, *_args: object) -> None:
        self.statements += 1

    def _accept(self, address: str, key: str, token: str) -> None:
        self.bot.intake.accept(platform=Platform.TELEGRAM, address=address, dedupe_key=key,
                               text=token)

    def round(self, messages: int) -> tuple[float, float]:
        """(CPU ms per message, statements per message) over ``messages`` tokens."""
        tokens = []
        for _ in range(messages):
            i = self.n
            self.n += 1
            header = encode_sealed_header(Kind.MESSAGE, self.pids[i % PAIRS],
                                          epoch=epoch_of(datetime.now(UTC)),
                                          direction=Direction.PHYSICIAN_TO_PATIENT,
                                          index=i, nonce=os.urandom(24))
            tokens.append((str(8_000_001 + i % PAIRS), f"m{i}",
                           encode_token(header + os.urandom(160))))
        before, count = _cpu(), self.statements
        for address, key, token in tokens:
            self._accept(address, key, token)
        return ((_cpu() - before) * 1000 / messages,
                (self.statements - count) / messages)

    def close(self) -> None:
        self.bot.engine.dispose()


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench_intake")
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pg-url", default=os.environ.get("MEDCRYPT_BENCH_PG_URL", ""))
    args, _ = parser.parse_known_args(argv)
    if args.messages < 10 or args.rounds < 1:
        parser.error("need --messages >= 10 and --rounds >= 1")
    return args


def main(argv: list[str]) -> int:
    args = _parse(argv)
    if not args.pg_url:
        print("\n## intake CPU, PostgreSQL vs SQLite: skipped (no --pg-url)")
        return 0
    print(f"\n## relay intake, bot CPU per message, PostgreSQL vs SQLite (median of "
          f"{args.rounds} alternating rounds of {args.messages}; goal <= 2x)")
    print(f"load average before: {load_average()} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory(prefix="medcrypt-bench-intake-") as tmp, \
            _database("sqlite", Path(tmp), "") as lite_url, \
            _database("postgresql", Path(tmp), args.pg_url) as pg_url:
        lite, pg = _Intake(lite_url), _Intake(pg_url)
        lite.round(20)
        pg.round(20)  # warm: statement caches, connections
        results: dict[str, list[tuple[float, float]]] = {"sqlite": [], "postgresql": []}
        for _ in range(args.rounds):
            results["sqlite"].append(lite.round(args.messages))
            results["postgresql"].append(pg.round(args.messages))
        lite.close()
        pg.close()
    cpu = {k: statistics.median(c for c, _ in v) for k, v in results.items()}
    for name in ("sqlite", "postgresql"):
        stmts = statistics.median(s for _, s in results[name])
        print(f"  {name:<11} {cpu[name]:7.3f} ms CPU/message   {stmts:5.1f} statements/message")
    print(f"  ratio       {cpu['postgresql'] / cpu['sqlite']:7.2f}x")
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
