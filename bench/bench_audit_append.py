"""One audit append against one single-row INSERT + commit, same engine, same run.

The issue's bar (18): a single ``AuditLog.append`` - its own transaction, head lock,
subject key, encryption, hash, insert, head update, commit - costs at most twice one
plain single-row INSERT + commit through the same engine, counted as this process's
CPU (``time.process_time``; on PostgreSQL the server's work is not ours). Both are
measured alternately in rounds, medians printed, on SQLite and (with ``--pg-url`` or
``MEDCRYPT_BENCH_PG_URL``) PostgreSQL. Appends use a few recurring subjects, as the
bot's do (a patient's entries come in runs), and a signing key as the bot has one - held
by a provider that counts its calls: appends never sign (ADR 0036), so the count printed
must be 0 however many appends crossed ``checkpoint_every``.

    python -m bench.run audit_append
    python -m bench.bench_audit_append --ops 500 --rounds 7 --pg-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import gc
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, text

from bench.harness import load_average
from bench.scratch_db import postgres_database
from medcrypt.bot.app.wiring import SystemClock
from medcrypt.crypto.server.audit import Action, CheckpointSigner
from medcrypt.crypto.server.env_provider import EnvProvider
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import migrate
from medcrypt.storage.audit import AuditLog
from medcrypt.storage.db import make_engine


def _cpu_per_op(fn: Callable[[], object], ops: int) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        for _ in range(ops):
            fn()
        return (time.process_time() - start) / ops * 1e6
    finally:
        gc.enable()


@contextmanager
def _database(backend: str, tmp: Path, pg_url: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / f'audit-{secrets.token_hex(4)}.db'}"
        return
    with postgres_database(pg_url) as url:
        yield url


class _CountingProvider:
    """The env provider's checkpoint key, counting signatures."""

    def __init__(self) -> None:
        self.inner = EnvProvider({1: os.urandom(32)}, os.urandom(32))
        self.signs = 0

    def public_key(self) -> bytes:
        return self.inner.public_key()

    def sign(self, message: bytes) -> bytes:
        self.signs += 1
        return self.inner.sign(message)


def _case(url: str, ops: int, rounds: int) -> tuple[float, float, int]:
    """(append µs CPU, INSERT+commit µs CPU, provider calls by appends), medians over
    ``rounds``."""
    migrate.upgrade(url)
    engine: Engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_plain (id INTEGER PRIMARY KEY, v BYTEA)"
                          if engine.dialect.name == "postgresql" else
                          "CREATE TABLE bench_plain (id INTEGER PRIMARY KEY, v BLOB)"))
    provider = _CountingProvider()
    audit = AuditLog(engine, Keyring({1: os.urandom(32)}), clock=SystemClock(),
                     signer=CheckpointSigner.in_provider(provider), checkpoint_every=1000,
                     checkpoint_interval=timedelta(hours=1))
    subjects = [audit.pseudonym("patient", f"p{i}") for i in range(8)]
    actor = audit.pseudonym("physician", "d1")
    blob = os.urandom(200)
    n = iter(range(10**9))

    def append() -> None:
        audit.append(actor, Action.RELAY_ACCEPTED, subjects[next(n) % len(subjects)],
                     {"kind": "text"})

    def insert() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO bench_plain (id, v) VALUES (:id, :v)"),
                         {"id": next(n), "v": blob})

    append()
    insert()
    appends, inserts = [], []
    for _ in range(rounds):  # alternated, so a change in the machine's load hits both
        appends.append(_cpu_per_op(append, ops))
        inserts.append(_cpu_per_op(insert, ops))
    engine.dispose()
    return statistics.median(appends), statistics.median(inserts), provider.signs


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench_audit_append")
    parser.add_argument("--ops", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--pg-url", default=os.environ.get("MEDCRYPT_BENCH_PG_URL", ""))
    args, _ = parser.parse_known_args(argv)
    if args.ops < 10 or args.rounds < 1:
        parser.error("need --ops >= 10 and --rounds >= 1")
    return args


def main(argv: list[str]) -> int:
    args = _parse(argv)
    print(f"\n## audit append (single, own transaction) vs one INSERT + commit, process "
          f"CPU, median of {args.rounds} rounds of {args.ops} (goal: <= 2x)")
    print(f"load average before: {load_average()} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory(prefix="medcrypt-bench-audit-append-") as tmp:
        for backend in ["sqlite"] + (["postgresql"] if args.pg_url else []):
            with _database(backend, Path(tmp), args.pg_url) as url:
                append_us, insert_us, signs = _case(url, args.ops, args.rounds)
            print(f"  {backend:<11} append {append_us:8.1f} us   insert+commit "
                  f"{insert_us:8.1f} us   ratio {append_us / insert_us:5.2f}x   "
                  f"provider calls by appends {signs}", flush=True)
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
