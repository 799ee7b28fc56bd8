"""Several replicas on one PostgreSQL: issue 18's figures, side by side in one run.

1. **Outbox drain cost per row** at 2k, 10k, 30k and 100k backlog, each on a freshly
   built and analysed table, median of ``--repeat`` builds (the real worker, a platform
   that answers at once: :mod:`bench.bench_drain`). Goal: 100k within 1.3x of 2k.
2. **Relay throughput with 1, 2 and 3 replicas**: that many processes, each a real
   :class:`OutboxWorker` with the real WhatsApp sender, drain one backlog (over many
   recipients) to the fake Twilio, which answers every send after ``--latency`` (50 ms)
   - pacing off. Rows per second from the start signal to the last row marked sent,
   median of ``--relay-repeat``; the ratio to one replica (on 2 cores: at least 1x).
3. **Audit append** (one entry, its own transaction) as a ratio to one single-row
   INSERT + commit, same engine, this process's CPU (:mod:`bench.bench_audit_append`).
4. **Intake CPU per message**, PostgreSQL against SQLite (:mod:`bench.bench_intake`).

    python -m bench.run replicas --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    python -m bench.bench_replicas --sizes 2000,100000 --repeat 5 --relay-rows 1500

The PostgreSQL URL may also come from ``MEDCRYPT_BENCH_PG_URL``; without one the run
says so and stops (every figure here is about PostgreSQL). The whole run took 19 minutes
at load averages of 8-18 on 2 cores shared with other jobs - the 100k builds dominate;
``--sizes`` and ``--repeat`` shorten it.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path

from sqlalchemy import text

from bench import bench_audit_append, bench_drain, bench_intake
from bench.harness import load_average
from bench.scratch_db import postgres_database
from medcrypt.bot.adapters.whatsapp import WhatsAppSender
from medcrypt.bot.app.wiring import SystemClock, build_services
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.identities import IdentityDirectory
from medcrypt.bot.domain.messages import OutboundMessage, OutKind, Platform
from medcrypt.bot.outbox import queue
from medcrypt.bot.outbox.worker import OutboxWorker
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.sandbox import FakeTwilio
from medcrypt.storage import migrate
from medcrypt.storage.db import make_engine, session_factory

#: Recipients of the relay backlog: enough queue heads for three replicas' slots.
RELAY_RECIPIENTS = 120
CONCURRENCY = 16


# -- relay throughput -------------------------------------------------------------------

def _fill(url: str, tw: FakeTwilio, rows: int, key: bytes) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    clock = SystemClock()
    directory = IdentityDirectory(Keyring({1: key}), clock)
    with session_factory(engine).begin() as s:
        for i in range(RELAY_RECIPIENTS):
            number = f"+1555700{i:04d}"
            tw.open_window(number)
            rid = directory.resolve(s, Platform.WHATSAPP, number).identity_id
            for j in range(i, rows, RELAY_RECIPIENTS):
                queue.enqueue(s, OutboundMessage(rid, OutKind.NOTICE), [f"n{j}"], clock.now())
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()


def _replica(url: str, key: bytes, twilio: tuple[str, str, str, str], ready: MpEvent,
             go: MpEvent, done: MpEvent) -> None:
    """One replica's outbox worker (a child process): drain until the parent says done."""
    base, sid, token, sender_from = twilio
    settings = parse_settings({
        "logging": {"level": "WARNING"},
        # No receipts (the fake sends none; the URL is a closed port): this measures the
        # sends.
        "whatsapp": {"api_base_url": base, "global_messages_per_second": 0.0,
                     "public_url": "http://127.0.0.1:9", "request_timeout_seconds": 10.0}})
    engine = make_engine(url)
    services = build_services(settings, SystemClock(), environ={}, keyring=Keyring({1: key}),
                              engine=engine)
    sender = WhatsAppSender(settings, sid, token, sender_from)
    worker = OutboxWorker(services, {Platform.WHATSAPP: sender}, concurrency=CONCURRENCY)

    async def run() -> None:
        stop = asyncio.Event()

        async def watch() -> None:
            while not done.is_set():
                await asyncio.sleep(0.05)
            stop.set()

        watcher = asyncio.create_task(watch())
        await worker.run(stop, idle_seconds=0.05)
        await watcher
        await sender.close()

    ready.set()
    go.wait()
    asyncio.run(run())
    engine.dispose()


def _relay_once(pg_url: str, replicas: int, rows: int, latency: float) -> float:
    """Rows per second that ``replicas`` processes drained, start signal to last mark."""
    key = os.urandom(32)
    ctx = mp.get_context("spawn")
    with postgres_database(pg_url) as url, FakeTwilio() as tw:
        tw.send_latency = latency
        # No delivery callbacks (they went to a closed port): the fake's one thread
        # spent more on each failed callback than on the send, and it - not the
        # replicas - set the pace (ADR 0043).
        tw.deliver = False
        _fill(url, tw, rows, key)
        ready = [ctx.Event() for _ in range(replicas)]
        go, done = ctx.Event(), ctx.Event()
        procs = [ctx.Process(target=_replica, args=(
            url, key, (tw.api_base_url, tw.account_sid, tw.auth_token, tw.whatsapp_from),
            r, go, done)) for r in ready]
        for p in procs:
            p.start()
        for r in ready:
            r.wait(120)
        engine = make_engine(url)
        start = time.perf_counter()
        go.set()
        deadline = start + 600
        try:
            with engine.connect() as conn:
                while time.perf_counter() < deadline:
                    sent = conn.execute(text(
                        "SELECT count(*) FROM outbox WHERE status = 'sent'")).scalar_one()
                    conn.commit()
                    if sent >= rows:
                        break
                    time.sleep(0.02)
            elapsed = time.perf_counter() - start
        finally:
            done.set()
            for p in procs:
                p.join(30)
            engine.dispose()
        if sent < rows:
            raise RuntimeError(f"relay bench: {sent} of {rows} sent before the deadline")
        if len(tw.send_times) != rows:
            raise RuntimeError(f"relay bench: {len(tw.send_times)} sends for {rows} rows")
    return rows / elapsed


# -- the run -----------------------------------------------------------------------------

def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench_replicas")
    parser.add_argument("--sizes", default="2000,10000,30000,100000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--relay-rows", type=int, default=1200)
    parser.add_argument("--relay-repeat", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--ops", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--pg-url", default=os.environ.get("MEDCRYPT_BENCH_PG_URL", ""))
    args, _ = parser.parse_known_args(argv)
    args.sizes = [int(x) for x in str(args.sizes).split(",")]
    if min(args.sizes) < 100 or args.repeat < 1 or args.relay_repeat < 1 \
            or args.relay_rows < 10 or args.sample < 100:
        parser.error("need sizes >= 100, --sample >= 100, --relay-rows >= 10, repeats >= 1")
    return args


def _drain_table(args: argparse.Namespace, tmp: Path) -> None:
    print(f"\n### 1. outbox drain cost per row vs backlog (PostgreSQL, "
          f"{bench_drain.RECIPIENTS} recipients, {args.sample} rows drained per build, "
          f"median of {args.repeat} fresh analysed builds; goal 100k <= 1.3x 2k)")
    print("  (the sizes take turns, one fresh build each per round, so a load that changes"
          " during the run weighs on every size alike)")
    print(f"  {'backlog':>8} {'wall ms/row':>12} {'CPU ms/row':>11} {'wall vs first':>14}"
          f"   wall per build")
    walls: dict[int, list[float]] = {size: [] for size in args.sizes}
    cpus: dict[int, list[float]] = {size: [] for size in args.sizes}
    once = argparse.Namespace(**{**vars(args), "repeat": 1})
    for _ in range(args.repeat):
        for size in args.sizes:
            r = bench_drain._case("postgresql", size, once, tmp)
            walls[size].append(r["wall"])
            cpus[size].append(r["cpu"])
    first = statistics.median(walls[args.sizes[0]])
    for size in args.sizes:
        wall = statistics.median(walls[size])
        print(f"  {size:>8} {wall:>12.3f} {statistics.median(cpus[size]):>11.3f} "
              f"{wall / first:>13.2f}x   {', '.join(f'{w:.2f}' for w in walls[size])}",
              flush=True)


def _relay_table(args: argparse.Namespace) -> None:
    print(f"\n### 2. relay throughput, 1-3 replicas on PostgreSQL ({args.relay_rows} rows over "
          f"{RELAY_RECIPIENTS} recipients, {args.latency * 1000:.0f} ms platform latency, "
          f"pacing off, concurrency {CONCURRENCY} each, median of {args.relay_repeat}; "
          "goal >= 1x)")
    one: float | None = None
    for n in (1, 2, 3):
        rates = [_relay_once(args.pg_url, n, args.relay_rows, args.latency)
                 for _ in range(args.relay_repeat)]
        rate = statistics.median(rates)
        one = one or rate
        print(f"  {n} replica{'s' if n > 1 else ' '} {rate:8.1f} rows/s   "
              f"ratio to one {rate / one:5.2f}x   (runs: "
              f"{', '.join(f'{x:.0f}' for x in rates)})", flush=True)


def _audit_row(args: argparse.Namespace, tmp: Path) -> None:
    print(f"\n### 3. audit append (single) vs one INSERT + commit, process CPU, median of "
          f"{args.rounds} rounds of {args.ops} (goal <= 2x)")
    for backend in ("sqlite", "postgresql"):
        with bench_audit_append._database(backend, tmp, args.pg_url) as url:
            # (The third figure, provider calls by the appends, is 0 since ADR 0036.)
            append_us, insert_us, calls = bench_audit_append._case(url, args.ops, args.rounds)
        print(f"  {backend:<11} append {append_us:8.1f} us   insert+commit {insert_us:8.1f} us"
              f"   ratio {append_us / insert_us:5.2f}x   provider calls {calls}", flush=True)


def _intake_row(args: argparse.Namespace, tmp: Path) -> None:
    print(f"\n### 4. intake, bot CPU per message, PostgreSQL vs SQLite (median of "
          f"{args.rounds} alternating rounds of {args.messages}; goal <= 2x)")
    with bench_intake._database("sqlite", tmp, "") as lite_url, \
            bench_intake._database("postgresql", tmp, args.pg_url) as pg_url:
        lite, pg = bench_intake._Intake(lite_url), bench_intake._Intake(pg_url)
        lite.round(20)
        pg.round(20)
        cpu: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
        for _ in range(args.rounds):
            cpu["sqlite"].append(lite.round(args.messages)[0])
            cpu["postgresql"].append(pg.round(args.messages)[0])
        lite.close()
        pg.close()
    lite_ms, pg_ms = statistics.median(cpu["sqlite"]), statistics.median(cpu["postgresql"])
    print(f"  sqlite {lite_ms:7.3f} ms   postgresql {pg_ms:7.3f} ms   "
          f"ratio {pg_ms / lite_ms:5.2f}x")


def main(argv: list[str]) -> int:
    args = _parse(argv)
    if not args.pg_url:
        print("\n## replicas (issue 18): skipped (no --pg-url / MEDCRYPT_BENCH_PG_URL)")
        return 0
    print("\n## several replicas on one PostgreSQL (issue 18), one run")
    print(f"load average before: {load_average()} ({os.cpu_count()} cores)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="medcrypt-bench-replicas-") as tmp:
        _drain_table(args, Path(tmp))
        print(f"load average: {load_average()}")
        _relay_table(args)
        print(f"load average: {load_average()}")
        _audit_row(args, Path(tmp))
        _intake_row(args, Path(tmp))
    print(f"\nload average after: {load_average()}; "
          f"the run took {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
