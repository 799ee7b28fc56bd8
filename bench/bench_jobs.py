"""Rotation and shred sweep at clinic scale, on SQLite (and PostgreSQL when configured).

``python -m bench.bench_jobs [--pairings N] [--tokens K] [--quick] [--profile] [--no-pg]
[--no-sqlite]`` (PostgreSQL runs when ``MEDCRYPT_TEST_PG_URL`` is set, in a scratch database)
(``python -m bench.run jobs`` runs the quick size: 10,000 pairings).

* rotation of N active pairings: N epoch rows created, N retired, 2N notices queued,
  2N audit entries (rotated + retired, hash-chained, details sealed per pairing);
* shred sweep over N epochs holding N*K stored tokens and 2N escrow deposits: every row
  deleted under ``secure_delete``, N epochs marked, 2N notices, N audit entries, then
  ``wal_checkpoint(TRUNCATE)`` (PostgreSQL: the configured VACUUM).

The baseline is the raw primitive measured in the same run: plain executemany INSERT of
the seed rows (rows/s), so "ratio" says how many times slower per row a job is than
bare inserts. Each job also reports its process CPU time and the load average before
and after: on a shared machine wall time moves with the neighbours' load, CPU time much
less. ``--profile`` prints where the time goes: cProfile's cumulative time of the job's
phases (audit appends, deletes, notices, commits...), then the top functions by own
time. Seeding is not timed. Nothing here is asserted. Goal from issue 5: each job
< 30 s on SQLite for N=100,000, K=10.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import secrets
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.harness import load_average
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.keyless.epochs import epoch_of, epoch_start, grace_end
from tests.support.jobs import make_context
from tests.support.seed import seed

E = epoch_of(datetime(2026, 10, 1, tzinfo=UTC))


#: The phases of the two jobs that --profile reports by cumulative time: (file, function).
PHASES = (
    ("rotation.py", "_rotate_page"), ("rotation.py", "_insert_epochs"),
    ("lifecycle.py", "retire"), ("lifecycle.py", "shred"), ("lifecycle.py", "members_of"),
    ("purge.py", "purge"), ("purge.py", "_purge_by_columns"), ("purge.py", "_purge_parts"),
    ("purge.py", "_purge_outbox"),
    ("queue.py", "queue_member_notices"), ("log.py", "append_many"),
    ("log.py", "_subject_keys"), ("records.py", "prepare"),
    ("audit_details.py", "seal_details"), ("audit_entry.py", "entry_hash"),
    ("base.py", "_commit_impl"), ("remanence.py", "scrub"),
)


def _timed(fn: Callable[[], Any], profile: bool) -> tuple[float, float, Any, pstats.Stats | None]:
    prof = cProfile.Profile() if profile else None
    start, cpu = time.perf_counter(), time.process_time()
    if prof is not None:
        prof.enable()
    result = fn()
    if prof is not None:
        prof.disable()
    elapsed, used = time.perf_counter() - start, time.process_time() - cpu
    return elapsed, used, result, (pstats.Stats(prof) if prof is not None else None)


def _where(stats: pstats.Stats | None, total: float) -> None:
    if stats is None:
        return
    table = stats.stats  # type: ignore[attr-defined]
    print("      phases (cumulative, overlapping):")
    for (path, _line, name), (_cc, _nc, _tt, cumtime, _callers) in sorted(
            table.items(), key=lambda kv: kv[1][3], reverse=True):
        if (Path(path).name, name) in PHASES and cumtime >= 0.01 * total:
            print(f"      {cumtime:6.2f}s {100 * cumtime / total:5.1f}%  "
                  f"{Path(path).name}:{name}")
    print("      own time:")
    rows = sorted(table.items(), key=lambda kv: kv[1][2], reverse=True)[:8]
    for (path, line, name), (_cc, _nc, tottime, _ct, _callers) in rows:
        where = f"{Path(path).name}:{line}({name})" if line else name
        print(f"      {tottime:6.2f}s {100 * tottime / total:5.1f}%  {where[:80]}")


def run(url: str, pairings: int, tokens: int, profile: bool) -> None:
    clock = FixedClock(epoch_start(E))
    ctx = make_context(url, clock)
    try:
        t0 = time.perf_counter()
        seed(ctx.engine, pairings, E, tokens_per_pairing=tokens, escrow=True)
        seeded = time.perf_counter() - t0
        seed_rows = pairings * (2 + 1 + 1 + 2 + tokens)
        raw_rate = seed_rows / seeded
        ctx.warm()
        backend = url.split(":", maxsplit=1)[0]
        print(f"\n## jobs on {backend} - {pairings:,} pairings, {pairings * tokens:,} tokens, "
              f"{2 * pairings:,} escrow deposits")
        print(f"  baseline: seed executemany INSERT {seed_rows:,} rows in {seeded:.1f}s "
              f"= {raw_rate:,.0f} rows/s")

        from medcrypt.bot.domain.lifecycle.rotation import rotate
        from medcrypt.bot.domain.lifecycle.shred import sweep

        first = epoch_start(E + 1)
        clock.set(first)
        load = load_average()
        secs, cpu, result, stats = _timed(lambda: rotate(ctx, first), profile)
        rows = result.epochs_created + result.epochs_retired + result.notices_queued \
            + result.epochs_created + result.epochs_retired  # + audit entries
        rate = rows / secs
        print(f"  rotation: {secs:6.2f}s wall, {rows:,} rows written ({rate:,.0f} rows/s, "
              f"{pairings / secs:,.0f} pairings/s), ratio {raw_rate / rate:5.2f}x vs raw insert; "
              f"CPU {cpu:.2f}s; load {load} -> {load_average()}")
        _where(stats, secs)

        when = grace_end(E, 7)
        clock.set(when)
        load = load_average()
        secs, cpu, swept, stats = _timed(lambda: sweep(ctx, when), profile)
        deleted = sum(v for k, v in swept.counts.items() if k not in ("epochs", "notices"))
        rows = deleted + swept.epochs_shredded * 2 + swept.counts["notices"]
        rate = rows / secs
        print(f"  sweep:    {secs:6.2f}s wall, {swept.epochs_shredded:,} epochs, "
              f"{deleted:,} rows deleted, {rows:,} rows touched ({rate:,.0f} rows/s, "
              f"{swept.epochs_shredded / secs:,.0f} epochs/s), ratio {raw_rate / rate:5.2f}x; "
              f"scrub={swept.scrub}; CPU {cpu:.2f}s; load {load} -> {load_average()}")
        _where(stats, secs)
    finally:
        ctx.engine.dispose()


def _pg_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    name = f"medcrypt_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{admin_url.rpartition('/')[0]}/{name}", drop


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_jobs")
    parser.add_argument("--pairings", type=int, default=100_000)
    parser.add_argument("--tokens", type=int, default=10, help="stored tokens per epoch")
    parser.add_argument("--quick", action="store_true", help="10,000 pairings")
    parser.add_argument("--profile", action="store_true", help="where the time goes")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true",
                        help="PostgreSQL only (MEDCRYPT_TEST_PG_URL)")
    args, _ = parser.parse_known_args(argv)
    pairings = 10_000 if args.quick or "jobs" in argv else args.pairings
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/bench.db", pairings, args.tokens, args.profile)
    pg = os.environ.get("MEDCRYPT_TEST_PG_URL", "")
    if pg and not args.no_pg:
        url, drop = _pg_database(pg)
        try:
            run(url, pairings, args.tokens, args.profile)
        finally:
            drop()
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
