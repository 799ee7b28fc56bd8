"""Verifying the audit log in contiguous slices, with the sequential verifier's answers.

A million entries take seconds to fetch and hash in one process; slices of the seq
range can be walked by separate processes on separate cores (storage/audit/parallel.py)
and stitched together here. The guarantee is that :func:`combine_segments` raises the
*same* :class:`AuditChainBroken` (seq and reason) as :func:`crypto.server.audit.verify.verify_chain`
over the concatenated rows, or returns the same report. Why it holds:

* a worker starts its walk as if its first row linked correctly (expected seq and
  previous hash taken from that row). The parent then checks that first row against
  the end of the previous slice with the sequential test; only if it passes does the
  worker's view of the rest of the slice matter - and then the worker's state (expected
  seq, previous two hashes) is exactly the sequential verifier's state at that row, so
  its diagnosis of an in-slice break is the sequential one;
* a worker records the hash at every checkpoint or witness seq it passes before a
  break; the parent consults checkpoints and witnesses in the same order as the
  sequential walk (slice by slice), so a bad signature before a later chain break still
  wins, as it does sequentially;
* coverage (:mod:`crypto.server.audit.coverage`): a worker given the checkpoint times
  runs the same late-entry watch over its rows, starting from the last checkpoint before
  its slice, and a break it finds is a break like any other. The one thing a worker
  cannot see is a late transaction left open by the slice before it: that slice reports
  it (``pending``) and the parent checks the next slice's first row against it, at the
  point of the walk where the sequential verifier would.

Pure: rows come in as batches from any source.
"""

from __future__ import annotations

import bisect
import hashlib
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

from medcrypt.crypto._primitives import Ed25519PublicKey
from medcrypt.crypto.errors import AuditChainBroken
from medcrypt.crypto.server.audit.checkpoint import Checkpoint, Witness
from medcrypt.crypto.server.audit.coverage import CoveragePolicy, LateWatch, Pending, unclosed
from medcrypt.crypto.server.audit.entry import (
    ENTRY_HEADER,
    ENTRY_LABEL,
    GENESIS_HASH,
    EntryRow,
    encode_raw,
)
from medcrypt.crypto.server.audit.verify import (
    Stops,
    VerifyReport,
    diagnose,
    encode_failure,
    finish,
)


@dataclass(frozen=True)
class SegmentResult:
    """What the parent needs from one slice: its first row, its end state, stop hashes.

    ``expected``, ``prev`` and ``prev2`` are the walk's state after the last row read
    (next seq, hash of the last row, hash of the one before). ``broken`` is the
    ``(seq, reason)`` of the first break inside the slice, diagnosed by the worker.
    ``pending`` is a late transaction still open at the slice's end (coverage).
    """

    rows: int
    first: EntryRow | None
    first_hash: bytes | None
    expected: int
    prev: bytes
    prev2: bytes
    stops: tuple[tuple[int, bytes], ...]
    broken: tuple[int, str] | None
    pending: Pending | None = None


EMPTY = SegmentResult(0, None, None, 0, GENESIS_HASH, GENESIS_HASH, (), None)


def verify_segment(
    batches: Iterable[Sequence[EntryRow]],
    stop_seqs: Sequence[int],
    *,
    interval_us: int | None = None,
    checkpoint_times: Mapping[int, int] | None = None,
    progress: Callable[[int], None] | None = None,
) -> SegmentResult:
    """Walk one slice: hashes and links inside it, hashes at ``stop_seqs`` (sorted).

    With ``interval_us`` and every checkpoint's ``checkpoint_times`` it also watches for
    late entries left unsigned (coverage). The inner loop is the sequential verifier's,
    so a slice costs what the same rows cost in
    :func:`crypto.server.audit.verify.verify_chain`.
    """
    it = iter(batches)
    head_batch: Sequence[EntryRow] = ()
    for head_batch in it:
        if head_batch:
            break
    if not head_batch:
        return EMPTY
    first = head_batch[0]
    expected, prev, prev2 = first[0], first[6], first[6]
    stop_iter = iter(stop_seqs[_first_stop(stop_seqs, expected):])
    next_stop = next(stop_iter, -1)
    sha, join, pack, label = hashlib.sha256, b"".join, ENTRY_HEADER.pack, ENTRY_LABEL
    try:
        first_hash: bytes | None = sha(encode_raw(first[0], first[1], first[2:7])).digest()
    except (struct.error, TypeError):
        first_hash = None  # the walk below breaks at this row; the parent reports it
    hits: list[tuple[int, bytes]] = []
    count = 0
    broken: tuple[int, str] | None = None
    watch = LateWatch(interval_us, checkpoint_times or {}, first[0])
    late_at = watch.late_at
    for batch in chain((head_batch,), it):
        for seq, ts, a, s, c, d, ph, eh in batch:
            try:
                try:
                    h = sha(join((label, pack(seq, ts, len(a), len(s), len(c), len(d)),
                                  a, s, c, d, ph))).digest()
                except (struct.error, TypeError):
                    encode_failure((seq, ts, a, s, c, d, ph, eh))
                if seq != expected or ph != prev or h != eh:
                    diagnose(seq, expected, (seq, ts, a, s, c, d, ph, eh), prev, prev2)
                prev2, prev, expected = prev, h, seq + 1
                if ts >= late_at:
                    late_at = watch.late(seq, ts)
                if seq == next_stop:
                    hits.append((seq, h))
                    next_stop = next(stop_iter, -1)
                    late_at = watch.stop(seq, ts)
            except AuditChainBroken as exc:
                broken = (exc.seq, exc.reason)
                break
        if broken is not None:
            break
        count += len(batch)
        if progress is not None:
            progress(count)
    return SegmentResult(count, first, first_hash, expected, prev, prev2, tuple(hits), broken,
                         watch.pending)


def _first_stop(stop_seqs: Sequence[int], seq: int) -> int:
    """Index of the first stop at or after ``seq`` (0 when ``seq`` is not an int: the
    walk breaks at that row before any stop matters)."""
    return bisect.bisect_left(stop_seqs, seq) if isinstance(seq, int) else 0


def combine_segments(
    segments: Iterable[SegmentResult],
    checkpoints: Iterable[Checkpoint],
    public_keys: Mapping[bytes, Ed25519PublicKey],
    *,
    witnesses: Sequence[Witness] = (),
    claimed_head: tuple[int, bytes] | None = None,
    coverage: CoveragePolicy | None = None,
    signature_ok: Mapping[int, bool] | None = None,
) -> VerifyReport:
    """Stitch slices (in seq order) into the sequential verifier's verdict.

    The slices must have been walked with ``coverage.interval_us`` and the checkpoints'
    times when ``coverage`` is given. ``signature_ok`` may carry checkpoint signature
    results computed while the workers ran; any checkpoint missing from it is checked
    here.
    """
    stops = Stops(checkpoints, public_keys, witnesses, signature_ok, coverage=coverage)
    next_stop = stops.next_seq()
    expected, prev, prev2, count = 1, GENESIS_HASH, GENESIS_HASH, 0
    pending: Pending | None = None
    for seg in segments:
        row = seg.first
        if row is None:
            continue
        if seg.first_hash is None:
            encode_failure(row)
        if row[0] != expected or row[6] != prev or seg.first_hash != row[7]:
            diagnose(row[0], expected, row, prev, prev2)
        if pending is not None and coverage is not None and row[1] != pending.ts_us:
            raise unclosed(pending, coverage.interval_us)
        for seq, h in seg.stops:
            if seq == next_stop:
                stops.reached(seq, h)
                next_stop = stops.next_seq()
        if seg.broken is not None:
            raise AuditChainBroken(*seg.broken)
        expected, prev, prev2 = seg.expected, seg.prev, seg.prev2
        count += seg.rows
        pending = seg.pending
    return finish(stops, count, expected - 1, prev, claimed_head, pending=pending)


def stop_seqs_of(checkpoints: Iterable[Checkpoint], witnesses: Sequence[Witness]) -> list[int]:
    """The seqs at which a walk must record the head hash, sorted."""
    return sorted({cp.seq for cp in checkpoints} | {w.seq for w in witnesses})
