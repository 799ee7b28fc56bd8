"""Audit log: append rate (single and batched) on SQLite, verify rate on a large log.

Baseline, measured in the same run: a pure SHA-256 chain (``h = sha256(h)``), the
floor for any hash chain in Python. Cases, all on a SQLite file with WAL:

* append single - one entry per transaction (lock, encrypt, hash, insert, commit);
* append batched - ``append_many`` of 1,000 entries per transaction;
* generate - the large log itself, ``append_many`` of 10,000 per transaction;
* raw driver fetch - the sqlite3 cursor alone, no verification (the I/O floor);
* verify in memory - ``verify_chain`` over tuples already fetched (decode + hash);
* verify from SQLite, one process - ``AuditLog.verify(jobs=1)`` end to end (fetch,
  hash, signatures), bounded by the driver fetch above;
* verify from SQLite, N workers - ``AuditLog.verify(jobs=N)``: seq slices walked by N
  worker processes (process start-up included), stitched by the parent.

The machine may be shared: the load average is printed before and after, and each
case is timed right after its own SHA-256 baseline.

    python -m bench.run audit                      # 1,000,000 entries
    python -m bench.bench_audit --entries 100000   # quicker
    python -m bench.bench_audit --jobs 4           # workers for the parallel case
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.server.audit import Action, CheckpointSigner, verify_chain
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.audit import (
    CHECKPOINTS,
    ENTRIES,
    HEAD,
    SECRETS,
    SUBJECT_KEYS,
    AuditEvent,
    AuditLog,
    default_jobs,
)
from medcrypt.storage.db import make_engine
from medcrypt.storage.models import load_all

ACTIONS = [Action.RELAY_ACCEPTED, Action.RELAY_REFUSED, Action.ADMIN_COMMAND]


def _timed(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls, GC off while timing."""
    samples = []
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return statistics.median(samples)


def _sha_chain(n: int) -> None:
    h, sha = b"", hashlib.sha256
    for _ in range(n):
        h = sha(h).digest()


class _Table:
    """Each case is timed right after its own baseline run, so the ratio holds even when
    the (shared) machine's load changes between cases. The best run is printed next to
    the median: on a machine other work shares, it shows what the code does with the
    cores it asked for, the median what it got."""

    def __init__(self, repeat: int) -> None:
        self.repeat = repeat
        # name, median us/entry, best us/entry, baseline us/entry
        self.rows: list[tuple[str, float, float, float]] = []

    def case(self, name: str, fn: Callable[[], object], entries: int) -> None:
        base_n = 200_000
        case_s, base_s = [], []
        for _ in range(self.repeat):
            base_s.append(_timed(lambda: _sha_chain(base_n), 1) / base_n)
            case_s.append(_timed(fn, 1) / entries)
        self.rows.append((name, statistics.median(case_s) * 1e6, min(case_s) * 1e6,
                          statistics.median(base_s) * 1e6))

    def once(self, name: str, seconds: float, entries: int) -> None:
        base = _timed(lambda: _sha_chain(200_000), 1) / 200_000
        us = seconds / entries * 1e6
        self.rows.append((name, us, us, base * 1e6))

    def print(self, title: str) -> None:
        print(f"\n## {title}")
        print(f"{'case':<50} {'us/entry':>9} {'entries/s':>11} {'best/s':>11} "
              f"{'SHA chain/s':>12} {'ratio':>8}")
        for name, us, best, base in self.rows:
            print(f"{name:<50} {us:>9.2f} {1e6 / us:>11,.0f} {1e6 / best:>11,.0f} "
                  f"{1e6 / base:>12,.0f} {us / base:>7.2f}x")


def _events(log: AuditLog, refs: list[str], n: int, offset: int = 0) -> list[AuditEvent]:
    return [AuditEvent(refs[0], ACTIONS[(offset + i) % 3], refs[(offset + i) % len(refs)],
                       {"direction": i % 2, "size_bucket": 160, "reason": "ok"})
            for i in range(n)]


def _new_log(path: Path, signer: CheckpointSigner) -> AuditLog:
    engine = make_engine(f"sqlite:///{path}")
    load_all().create_all(engine, tables=[ENTRIES, CHECKPOINTS, SUBJECT_KEYS, SECRETS, HEAD])
    return AuditLog(engine, Keyring({1: os.urandom(32)}), signer=signer, checkpoint_every=1000,
                    clock=FixedClock(datetime(2026, 11, 23, tzinfo=UTC)))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000, help="size of the big log")
    parser.add_argument("--single", type=int, default=1_000, help="single appends per run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=default_jobs(), help="parallel verify workers")
    args, _ = parser.parse_known_args(argv)
    load_at_start = os.getloadavg()[0]  # other work on a shared machine skews every figure
    signer = CheckpointSigner(os.urandom(32))
    keys = {signer.key_id: signer.public_key}
    table = _Table(args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        small = _new_log(Path(tmp) / "small.db", signer)
        refs = [small.pseudonym("patient", i) for i in range(100)]
        single = _events(small, refs, args.single)

        def append_single() -> None:
            for e in single:
                small.append(*e)

        table.case("append single (1 per transaction)", append_single, args.single)
        batch = _events(small, refs, 1_000)
        table.case("append batched (1,000 per transaction)",
                   lambda: [small.append_many(batch) for _ in range(10)], 10_000)

        big = _new_log(Path(tmp) / "big.db", signer)
        refs = [big.pseudonym("patient", i) for i in range(1000)]
        start = time.perf_counter()
        for offset in range(0, args.entries, 10_000):
            big.append_many(_events(big, refs, min(10_000, args.entries - offset), offset))
        generate_s = time.perf_counter() - start
        total = big.head().seq
        table.once(f"generate {total:,} (10,000 per transaction)", generate_s, total)

        raw_sql = ("SELECT seq, ts_us, CAST(actor_ref AS BLOB), CAST(subject_ref AS BLOB), "
                   "CAST(action AS BLOB), details, prev_hash, entry_hash FROM audit_entries "
                   "ORDER BY seq")  # what AuditLog.verify runs on SQLite
        conn = sqlite3.connect(Path(tmp) / "big.db")

        def fetch() -> None:  # streamed and dropped, as verify does
            cursor = conn.execute(raw_sql)
            while cursor.fetchmany(2000):
                pass

        table.case("raw driver fetch (sqlite3, no verify)", fetch, total)
        fetched = conn.execute(raw_sql).fetchall()
        conn.close()
        cps = big.checkpoints(after_seq=0, limit=total)
        batches = [fetched[i:i + 2000] for i in range(0, len(fetched), 2000)]
        table.case("verify in memory (decode + hash + signatures)",
                   lambda: verify_chain(batches, cps, keys), total)
        fetched.clear()  # free the memory before the end-to-end run
        table.case("verify from SQLite, 1 process (jobs=1)",
                   lambda: big.verify(keys, jobs=1), total)
        table.case(f"verify from SQLite, {args.jobs} workers (jobs={args.jobs})",
                   lambda: big.verify(keys, jobs=args.jobs), total)
    table.print(f"audit log, {total:,} entries, SQLite WAL, {os.cpu_count()} cores, load "
                f"average {load_at_start:.2f} -> {os.getloadavg()[0]:.2f} (ratio = time per "
                "entry vs a pure SHA-256 chain timed just before)")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
