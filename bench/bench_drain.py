"""Outbox drain cost per row against the backlog's size (issue 18, ADR 0024).

For each backlog size (2k, 10k, 30k, 100k rows over 200 recipients) and each backend, a
fresh database is built, its outbox filled in bulk, the queue heads built by the repair
sweep, and the tables analysed (``ANALYZE``); then the real :class:`OutboxWorker` drains
``--sample`` rows (or the whole backlog when it is smaller) with a sender that answers
at once, so what is timed is the claim, the marks and their commits - the drain's own
cost. Repeated ``--repeat`` times on a freshly built table each; medians are printed,
wall time (on PostgreSQL it includes the server's work) and this process's CPU, with
the ratio to the 2k figure (the goal: 100k within 1.3x of 2k).

For comparison the claim query of 06f4938 (grouping every unfinished row by recipient
on each claim) is timed on the same tables, alone, per row it would claim.

    python -m bench.run drain                                 # SQLite only
    python -m bench.run drain --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    python -m bench.bench_drain --sizes 2000,100000 --repeat 5 --sample 2000

The PostgreSQL URL may also come from ``MEDCRYPT_BENCH_PG_URL``; each build gets a
database of its own on that server, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, func, insert, or_, select, text

from bench.harness import load_average
from bench.scratch_db import postgres_database
from medcrypt.bot.app.wiring import build_services
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.identities import IdentityDirectory
from medcrypt.bot.domain.messages import Platform
from medcrypt.bot.domain.sender import Delivery
from medcrypt.bot.outbox.worker import OutboxWorker
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import migrate
from medcrypt.storage.db import is_sqlite, make_engine, session_factory
from medcrypt.storage.models.outbox import OutboxMessage
from medcrypt.storage.repos import outbox as rows

RECIPIENTS = 200
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
KEYRING = Keyring({1: os.urandom(32)})
_OUTBOX: Any = OutboxMessage.__table__


class _Instant:
    """A platform that accepts every send at once: only the drain's own cost remains."""

    async def send(self, d: Delivery) -> str:
        return "SM" + secrets.token_hex(8)

    async def lookup(self, d: Delivery, since: float) -> None:
        return None


def _old_claim() -> Any:
    """The claim query of 06f4938, for comparison: heads found by grouping every
    unfinished row by recipient, on every claim."""
    c = _OUTBOX.c
    heads = (select(func.min(c.id))
             .where(c.status.in_(("pending", "sending", "held")), c.payload_kind != "template")
             .group_by(c.dest_identity_id))
    return (select(c.id).where(c.status == "pending", c.next_attempt_at <= bindparam("now"),
                               or_(c.payload_kind == "template", c.id.in_(heads)))
            .order_by(c.id).limit(bindparam("limit")))


@contextmanager
def _database(backend: str, tmp: Path, pg_url: str) -> Iterator[str]:
    """A fresh, empty database URL on ``backend``, removed afterwards."""
    if backend == "sqlite":
        path = tmp / f"drain-{secrets.token_hex(4)}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    with postgres_database(pg_url) as url:
        yield url


_PAYLOAD = b"[MEDCRYPT:v2:" + b"A" * 200 + b"]"
#: PostgreSQL builds the backlog server-side: row ``g`` (id ``g + 1``) goes to recipient
#: ``g % n``, as the SQLite path's rows do. One statement, no row crosses the wire: a
#: 100k backlog took most of a minute as parameter batches, about a second this way.
_FILL_PG = text(
    "INSERT INTO outbox (id, dest_identity_id, payload_kind, payload, status, attempts, "
    "next_attempt_at, created_at, updated_at) "
    "SELECT g + 1, (CAST(:dests AS text[]))[g % :n + 1], 'text', :payload, 'pending', 0, "
    ":now, :now, :now FROM generate_series(0, :count - 1) AS g")


def _fill(engine: Engine, dests: list[str], backlog: int) -> None:
    """``backlog`` pending text rows, round robin over ``dests``, ids 1..backlog."""
    with engine.begin() as conn:
        if not is_sqlite(engine):
            conn.execute(_FILL_PG, {"dests": dests, "n": len(dests), "payload": _PAYLOAD,
                                    "now": NOW, "count": backlog})
            conn.execute(text("SELECT setval(pg_get_serial_sequence('outbox', 'id'), :last)"),
                         {"last": backlog})
            return
        for start in range(0, backlog, 5000):  # in process: parameter batches are cheap
            conn.execute(insert(_OUTBOX), [{
                "dest_identity_id": dests[i % len(dests)], "origin_identity_id": None,
                "pairing_id": None, "payload_kind": "text", "payload": _PAYLOAD,
                "status": "pending", "attempts": 0, "next_attempt_at": NOW,
                "created_at": NOW, "updated_at": NOW,
            } for i in range(start, min(backlog, start + 5000))])


def _build(url: str, backlog: int) -> Engine:
    """Migrate, add the recipients, fill the outbox in bulk, build heads, analyse."""
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    directory = IdentityDirectory(KEYRING, FixedClock(NOW))
    with sessions.begin() as s:
        dests = [directory.resolve(s, Platform.TELEGRAM, str(7_000_001 + i)).identity_id
                 for i in range(RECIPIENTS)]
    _fill(engine, dests, backlog)
    with sessions.begin() as s:
        rows.repair_heads(s)  # the sweep builds every head, as the migration would
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # The bulk load's WAL, written out now rather than in the middle of the drain.
        result = conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)" if is_sqlite(engine)
                                   else "CHECKPOINT"))
        if result.returns_rows:
            result.all()
    return engine


def _drain(engine: Engine, sample: int) -> tuple[float, float, int]:
    """Drain ``sample`` rows with the real worker: (wall ms/row, CPU ms/row, rows)."""
    settings = parse_settings({"logging": {"level": "WARNING"}})
    services = build_services(settings, FixedClock(NOW + timedelta(seconds=1)), environ={},
                              keyring=KEYRING, engine=engine)
    worker = OutboxWorker(services, {Platform.TELEGRAM: _Instant()}, concurrency=64)

    async def run() -> int:
        done = 0
        while done < sample and (k := await worker.run_once()):
            done += k
        return done

    wall0, cpu0 = time.perf_counter(), time.process_time()
    done = asyncio.run(run())
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return wall * 1000 / max(done, 1), cpu * 1000 / max(done, 1), done


def _old_query(engine: Engine, calls: int = 10) -> float:
    """06f4938's claim query alone: ms per row it returns (64 per call)."""
    stmt = _old_claim()
    with engine.connect() as conn:
        conn.execute(stmt, {"now": NOW, "limit": 64}).all()
        start = time.perf_counter()
        for _ in range(calls):
            got = len(conn.execute(stmt, {"now": NOW, "limit": 64}).all())
        return (time.perf_counter() - start) * 1000 / calls / max(got, 1)


def _case(backend: str, backlog: int, args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    walls, cpus, olds = [], [], []
    for _ in range(args.repeat):
        with _database(backend, tmp, args.pg_url) as url:
            engine = _build(url, backlog)
            assert is_sqlite(engine) == (backend == "sqlite")
            olds.append(_old_query(engine))
            wall, cpu, _done = _drain(engine, min(args.sample, backlog))
            walls.append(wall)
            cpus.append(cpu)
            engine.dispose()
    return {"wall": statistics.median(walls), "cpu": statistics.median(cpus),
            "old": statistics.median(olds)}


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench_drain")
    parser.add_argument("--sizes", default="2000,10000,30000,100000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--pg-url", default=os.environ.get("MEDCRYPT_BENCH_PG_URL", ""))
    args, _ = parser.parse_known_args(argv)
    args.sizes = [int(x) for x in str(args.sizes).split(",")]
    if args.repeat < 1 or args.sample < 100 or min(args.sizes) < 100:
        parser.error("need --repeat >= 1, --sample >= 100 and sizes >= 100")
    return args


def main(argv: list[str]) -> int:
    args = _parse(argv)
    backends = ["sqlite"] + (["postgresql"] if args.pg_url else [])
    print(f"\n## outbox drain cost per row vs backlog ({RECIPIENTS} recipients, "
          f"{args.sample} rows drained per build, median of {args.repeat} fresh builds)")
    print(f"load average before: {load_average()} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory(prefix="medcrypt-bench-drain-") as tmp:
        for backend in backends:
            print(f"{backend}:")
            print(f"  {'backlog':>8} {'wall ms/row':>12} {'CPU ms/row':>11} {'vs 2k':>7} "
                  f"{'06f4938 claim query ms/row':>27}")
            first: float | None = None
            for size in args.sizes:
                r = _case(backend, size, args, Path(tmp))
                first = first or r["wall"]
                print(f"  {size:>8} {r['wall']:>12.3f} {r['cpu']:>11.3f} "
                      f"{r['wall'] / first:>6.2f}x {r['old']:>27.3f}", flush=True)
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
