"""Verify a large audit log on several cores: contiguous seq slices, one process each.

One process tops out near the sqlite3 driver's own fetch rate; verification is fetch
plus SHA-256 per row, so N processes over N slices go roughly N times faster. The
parent (:meth:`storage.audit.log.AuditLog.verify`) has already read the checkpoints, the
head row and ``min(seq)``/``max(seq)`` in its own read transaction; the workers must
see the same rows:

* PostgreSQL: the parent exports its REPEATABLE READ snapshot (``pg_export_snapshot``)
  and every worker opens its transaction with ``SET TRANSACTION SNAPSHOT`` - the very
  same snapshot, so the parallel walk reads exactly what a sequential one would.
* SQLite has no shared snapshots, so the slices are bounded by the parent's
  ``max(seq)``. The table is insert-only at the head (an append takes seq head+1
  under the head lock; nothing updates or deletes entries), so rows up to that seq are
  the same in any later snapshot and appends made meanwhile are simply not read.

Each worker checks its slice's internal chain, hashes and late entries (coverage) and
returns its first row, its end state and the hashes at checkpoint and witness seqs; the
parent stitches the slices with :func:`crypto.audit.combine_segments`, which names the
same first bad seq, for the same reason, as the sequential verifier. The parent is one
of the walkers: it checks the checkpoint signatures (which do not depend on the walk)
while the worker interpreters start, then walks the first slice on its own connection
and snapshot.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from multiprocessing.connection import Connection as Pipe
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from medcrypt.crypto.errors import StorageError
from medcrypt.crypto.server.audit import (
    Checkpoint,
    CoveragePolicy,
    SegmentResult,
    VerifyReport,
    Witness,
    checkpoint_signature_ok,
    checkpoint_times,
    combine_segments,
    stop_seqs_of,
    verify_segment,
)
from medcrypt.crypto.server.audit.checkpoint import AuditPublicKey
from medcrypt.storage.audit.records import ENTRIES
from medcrypt.storage.audit.worker import SliceTask
from medcrypt.storage.db import SQLITE_BUSY_TIMEOUT_MS

#: Below this many entries one process is faster than starting workers.
PARALLEL_MIN_ENTRIES = 50_000
MAX_DEFAULT_JOBS = 4


def default_jobs() -> int:
    """``min(cpu_count, 4)``: beyond four, the database read is the bottleneck."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_JOBS))


def plan_slices(conn: Connection, jobs: int, min_entries: int) -> list[tuple[int, int]] | None:
    """``(after, upto)`` seq bounds of ``jobs`` equal slices of ``[min(seq), max(seq)]``,
    read in the caller's snapshot; ``None`` when the log is too small to split."""
    if jobs < 2:
        return None
    low, high = conn.execute(select(func.min(ENTRIES.c.seq), func.max(ENTRIES.c.seq))).one()
    if low is None or int(high) - int(low) + 1 < min_entries:
        return None
    low, span = int(low), int(high) - int(low) + 1
    cuts = [low - 1 + span * k // jobs for k in range(jobs + 1)]
    return [(cuts[k], cuts[k + 1]) for k in range(jobs) if cuts[k + 1] > cuts[k]]


def worker_target(conn: Connection) -> tuple[str, str] | None:
    """Where a worker process connects: a SQLite file path or a libpq URI (``None`` for
    an in-memory or URI-configured SQLite database, which workers cannot open)."""
    url = conn.engine.url
    if conn.dialect.name == "sqlite":
        if not url.database or url.database == ":memory:" or url.query:
            return None
        return "sqlite", str(Path(url.database).resolve())
    if conn.dialect.name == "postgresql":
        return "postgresql", url.set(drivername="postgresql").render_as_string(
            hide_password=False)
    return None


def verify_parallel(
    conn: Connection,
    target: tuple[str, str],
    slices: Sequence[tuple[int, int]],
    entry_sql: Callable[[int, int], str],
    *,
    local_batches: Callable[[str], AbstractContextManager[Iterable[Sequence[Any]]]],
    checkpoints: Sequence[Checkpoint],
    public_keys: Mapping[bytes, AuditPublicKey],
    witnesses: Sequence[Witness],
    claimed_head: tuple[int, bytes],
    coverage: CoveragePolicy | None,
    progress: Callable[[int], None] | None,
    batch_size: int,
) -> VerifyReport:
    """Walk the first slice here (``local_batches`` streams it on the parent's own
    connection and snapshot) and the others in worker processes; stitch the verdict."""
    dialect, where = target
    snapshot = None
    if dialect == "postgresql":
        snapshot = str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one())
    stops = stop_seqs_of(checkpoints, witnesses)
    interval = coverage.late_interval_us if coverage is not None else None
    times = checkpoint_times(checkpoints)

    def stops_in(after: int, upto: int) -> list[int]:
        return [s for s in stops if after < s <= upto]

    tasks = [SliceTask(dialect, where, entry_sql(after, upto), stops_in(after, upto),
                       batch_size, snapshot, SQLITE_BUSY_TIMEOUT_MS, interval,
                       tuple(times.items()))
             for after, upto in slices[1:]]

    def walk_first(report: Callable[[int], None]) -> SegmentResult:
        with local_batches(entry_sql(*slices[0])) as batches:
            return verify_segment(batches, stops_in(*slices[0]), interval_us=interval,
                                  checkpoint_times=times, progress=report)

    signature_ok: dict[int, bool] = {}

    def check_signatures() -> None:
        signature_ok.update({cp.seq: checkpoint_signature_ok(cp, public_keys)
                             for cp in checkpoints})

    results = run_workers(tasks, progress, local=walk_first, meanwhile=check_signatures)
    return combine_segments(results, checkpoints, public_keys, witnesses=witnesses,
                            claimed_head=claimed_head, coverage=coverage,
                            signature_ok=signature_ok)


class _Collector:
    """Answers from the workers (slice ``offset + i`` for worker ``i``), progress, and the
    cutoff: once a slice is broken, later slices cannot change the verdict."""

    def __init__(self, pipes: Sequence[Pipe], offset: int,
                 progress: Callable[[int], None] | None) -> None:
        self.results: dict[int, SegmentResult] = {}
        self.counts = [0] * (len(pipes) + offset)
        self.pending = {pipe: offset + i for i, pipe in enumerate(pipes)}
        self.cutoff = len(self.counts)
        self.progress = progress

    def done(self, i: int, result: SegmentResult) -> None:
        self.results[i] = result
        self.counts[i] = result.rows
        if result.broken is not None and i < self.cutoff:
            self.cutoff = i
            self.pending = {p: j for p, j in self.pending.items() if j < i}

    def poll(self, timeout: float) -> None:
        for ready in wait(list(self.pending), timeout=timeout):
            i = self.pending.get(ready)  # type: ignore[call-overload]
            if i is None:  # dropped by the cutoff in this same round
                continue
            kind, value = _receive(ready)  # type: ignore[arg-type]
            if kind == "progress":
                self.counts[i] = int(value)
            else:
                del self.pending[ready]  # type: ignore[arg-type]
                self.done(i, value)
        if self.progress is not None:
            self.progress(sum(self.counts))

    def ordered(self) -> list[SegmentResult]:
        return [self.results[i] for i in range(min(self.cutoff + 1, len(self.counts)))]


def run_workers(
    tasks: Sequence[SliceTask],
    progress: Callable[[int], None] | None,
    *,
    local: Callable[[Callable[[int], None]], SegmentResult] | None = None,
    meanwhile: Callable[[], None] = lambda: None,
) -> list[SegmentResult]:
    """One worker process per task, plus ``local`` (slice 0, walked in this process); the
    ``meanwhile`` work runs while the workers start. Results in slice order, cut after
    the first broken slice; the workers of later slices are stopped early."""
    workers: list[tuple[subprocess.Popen[bytes], Pipe]] = []
    delivered: set[int] = set()
    try:
        for task in tasks:
            workers.append(_start(task))
        offset = 1 if local is not None else 0
        collect = _Collector([pipe for _, pipe in workers], offset, progress)
        meanwhile()  # while the workers' interpreters start
        if local is not None:

            def report(rows: int) -> None:
                collect.counts[0] = rows
                collect.poll(0)

            collect.done(0, local(report))
        while collect.pending:
            collect.poll(0.2)
        delivered = {i - offset for i in collect.results}
        return collect.ordered()
    finally:
        for i, (proc, pipe) in enumerate(workers):
            pipe.close()
            _stop(proc, delivered=i in delivered)


def _start(task: SliceTask) -> tuple[subprocess.Popen[bytes], Pipe]:
    """``python -m medcrypt.storage.audit.worker`` with two private pipes (never argv or the
    environment: the task can hold a database password)."""
    task_r, task_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            [sys.executable, "-m", "medcrypt.storage.audit.worker", str(task_r), str(out_w)],
            pass_fds=(task_r, out_w), stdin=subprocess.DEVNULL)
    except OSError:
        for fd in (task_r, task_w, out_r, out_w):
            os.close(fd)
        raise StorageError("could not start an audit verify worker process") from None
    os.close(task_r)
    os.close(out_w)
    sender = Pipe(task_w, readable=False)
    try:
        sender.send(task)
    except OSError:
        raise StorageError("an audit verify worker exited before taking its task") from None
    finally:
        sender.close()
    return proc, Pipe(out_r, writable=False)


def _receive(pipe: Pipe) -> tuple[str, Any]:
    try:
        kind, value = pipe.recv()
    except (EOFError, OSError):
        raise StorageError("an audit verify worker exited without an answer") from None
    if kind == "error":
        raise StorageError(str(value))
    if kind == "done" and not isinstance(value, SegmentResult):
        raise StorageError("an audit verify worker sent a malformed answer")
    return str(kind), value


def _stop(proc: subprocess.Popen[bytes], *, delivered: bool) -> None:
    """Reap a worker: one that answered exits on its own; an abandoned one is killed."""
    if delivered:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        else:
            return
    proc.kill()
    proc.wait()
