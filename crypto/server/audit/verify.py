"""The streaming chain verifier: hashes, links, checkpoints and witness lines.

Pure, in the python-tuf style: the repository only fetches rows and hands them over in
seq order; this module decides. It reports the first sequence number that cannot be
trusted and why (docs/adr/0004-audit-log.md lists every case). The pieces that explain
a break (:func:`diagnose`) and that check checkpoints and witnesses (:class:`Stops`) are
shared with :mod:`crypto.server.audit.segment`, which verifies slices of the log in parallel
and must name exactly the same first bad seq. Given a
:class:`~crypto.server.audit.coverage.CoveragePolicy`, the walk also holds the log to its
checkpoint coverage (:mod:`crypto.server.audit.coverage`): a chain that links but has a
stretch no checkpoint signed in time is broken too.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from medcrypt.crypto._primitives import Ed25519PublicKey
from medcrypt.crypto.errors import AuditChainBroken
from medcrypt.crypto.server.audit.checkpoint import Checkpoint, Witness, checkpoint_signature_ok
from medcrypt.crypto.server.audit.coverage import (
    CoveragePolicy,
    LateWatch,
    Pending,
    check_gap,
    check_tail,
)
from medcrypt.crypto.server.audit.entry import (
    ENTRY_HEADER,
    ENTRY_LABEL,
    GENESIS_HASH,
    EntryRow,
    encode_raw,
)
from medcrypt.crypto.server.audit.restore import RestoreMark


@dataclass(frozen=True)
class VerifyReport:
    """A verified log. ``witnessed_seq`` is the highest seq a witness line vouched for
    (0: not checked against witness lines - a cut back to a checkpoint would not show);
    ``coverage_checked`` says whether the checkpoint coverage rules were applied."""

    entries: int
    head_seq: int
    head_hash: bytes
    checkpoints: int
    last_checkpoint_seq: int
    witnesses: int
    witnessed_seq: int = 0
    last_checkpoint_ts_us: int = 0
    coverage_checked: bool = False
    #: Signed restore entries found in the log (docs/adr/0016), oldest first.
    restores: tuple[RestoreMark, ...] = ()
    #: Witness lines of history a restore lost: reported, not checked against the chain.
    witnesses_set_aside: int = 0

    @property
    def unsigned_tail(self) -> int:
        """Entries after the last checkpoint: not yet protected against a rewrite."""
        return self.head_seq - self.last_checkpoint_seq


def verify_chain(
    batches: Iterable[Sequence[EntryRow]],
    checkpoints: Iterable[Checkpoint],
    public_keys: Mapping[bytes, Ed25519PublicKey],
    *,
    witnesses: Sequence[Witness] = (),
    claimed_head: tuple[int, bytes] | None = None,
    coverage: CoveragePolicy | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Walk every entry in seq order, checking hashes, links, checkpoints and witnesses.

    ``batches`` are lists of :data:`EntryRow` tuples (a database cursor's batches, text
    columns cast to bytes): the inner loop is tuple unpacking, one join and one SHA-256.
    ``coverage`` adds the checkpoint coverage rules; without it only the chain is
    checked (an exported slice, a unit test). Raises :class:`AuditChainBroken` naming
    the first sequence number that cannot be trusted and why; otherwise returns a
    :class:`VerifyReport`.
    """
    cps = list(checkpoints)
    stops = Stops(cps, public_keys, witnesses, coverage=coverage)
    watch = LateWatch(coverage.late_interval_us if coverage else None, checkpoint_times(cps))
    late_at = watch.late_at
    sha, join, pack, label = hashlib.sha256, b"".join, ENTRY_HEADER.pack, ENTRY_LABEL
    expected, prev, prev2, count = 1, GENESIS_HASH, GENESIS_HASH, 0
    next_stop = stops.next_seq()
    for batch in batches:
        for seq, ts, a, s, c, d, ph, eh in batch:
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
                stops.reached(seq, h)
                next_stop = stops.next_seq()
                late_at = watch.stop(seq, ts)
        count += len(batch)
        if progress is not None:
            progress(count)
    return finish(stops, count, expected - 1, prev, claimed_head, pending=watch.pending)


def checkpoint_times(checkpoints: Iterable[Checkpoint]) -> dict[int, int]:
    """Each checkpoint's seq and signed time (what the coverage walk consults)."""
    return {cp.seq: cp.ts_us for cp in checkpoints}


def finish(
    stops: Stops, count: int, head_seq: int, head_hash: bytes,
    claimed_head: tuple[int, bytes] | None, *, pending: Pending | None = None,
) -> VerifyReport:
    """After the last entry: the tail against checkpoints and witnesses, the head row,
    then what the last checkpoint left unsigned (coverage)."""
    stops.finish(head_seq)
    if claimed_head is not None and (claimed_head[0] != head_seq
                                     or bytes(claimed_head[1]) != head_hash):
        raise AuditChainBroken(min(claimed_head[0], head_seq) + 1,
                               f"the head record names seq {claimed_head[0]} but the log "
                               f"ends at seq {head_seq}: entries were removed or rewritten")
    if stops.coverage is not None:
        check_tail(stops.coverage, stops.last_good, stops.last_good_ts, head_seq, pending)
    return VerifyReport(count, head_seq, head_hash, stops.verified, stops.last_good,
                        stops.witnessed, stops.witnessed_seq, stops.last_good_ts,
                        stops.coverage is not None)


def encode_failure(row: Sequence[Any]) -> NoReturn:
    """An entry that cannot be encoded: a loose database's break, or the caller's mistake."""
    if any(isinstance(x, str) for x in row[2:5]):  # caller's mistake, not data's
        raise TypeError("verify_chain rows carry text as bytes (see as_row)") from None
    raise AuditChainBroken(row[0], "an entry field has the wrong type or range") from None


def diagnose(
    seq: int, expected: int, row: EntryRow, prev: bytes, prev2: bytes
) -> NoReturn:
    """Explain the first break; only runs once, so it may recompute hashes freely."""
    ph, eh = row[6], row[7]
    if not isinstance(seq, int):
        raise AuditChainBroken(expected, "an entry has a non-integer seq")
    if seq > expected:
        raise AuditChainBroken(expected, f"entry missing: seq {expected} was deleted")
    if seq < expected:
        raise AuditChainBroken(seq, "entries out of order or duplicated")
    if ph == prev:
        raise AuditChainBroken(seq, "content does not match its hash: a field or the "
                                    "details ciphertext was changed")
    if seq > 1 and ph == prev2 and _rehash(seq - 1, row) == eh:
        raise AuditChainBroken(seq - 1, "entry inserted: the entry after it links past it "
                                        "and was renumbered")
    if _rehash(seq + 1, row) == eh:
        raise AuditChainBroken(seq, "entry deleted before this one and the rest renumbered")
    raise AuditChainBroken(seq, "does not link to the previous entry: entry replaced, "
                                "moved or reordered")


def _rehash(seq: int, row: EntryRow) -> bytes | None:
    """The hash the row would have at another position (None if it cannot be encoded)."""
    try:
        return hashlib.sha256(encode_raw(seq, row[1], row[2:7])).digest()
    except (struct.error, TypeError):
        return None


class Stops:
    """Checkpoints and witness lines, consulted when the walk reaches their seq.

    ``signature_ok`` may hold signature results computed ahead (the parallel verifier
    checks them while its workers hash); missing entries are checked here.
    """

    def __init__(self, checkpoints: Iterable[Checkpoint],
                 keys: Mapping[bytes, Ed25519PublicKey], witnesses: Sequence[Witness],
                 signature_ok: Mapping[int, bool] | None = None, *,
                 coverage: CoveragePolicy | None = None) -> None:
        self.cps = {cp.seq: cp for cp in checkpoints}
        self.keys = keys
        self.wits: dict[int, list[Witness]] = {}
        for w in witnesses:
            self.wits.setdefault(w.seq, []).append(w)
        self.seqs = sorted(set(self.cps) | set(self.wits))
        self.order = iter(self.seqs)
        self.signature_ok = signature_ok or {}
        self.coverage = coverage
        self.last_good = 0
        self.last_good_ts = 0
        self.prev_sig = b""
        self.verified = 0
        self.witnessed = 0
        self.witnessed_seq = 0

    def next_seq(self) -> int:
        return next(self.order, -1)

    def _broken(self, why: str) -> AuditChainBroken:
        return AuditChainBroken(self.last_good + 1, why)

    def _signed(self, cp: Checkpoint) -> bool:
        known = self.signature_ok.get(cp.seq)
        return known if known is not None else checkpoint_signature_ok(cp, self.keys)

    def reached(self, seq: int, head: bytes) -> None:
        cp = self.cps.get(seq)
        for w in self.wits.get(seq, ()):
            if not head.startswith(w.head_prefix):
                raise self._broken(f"entries up to seq {seq} do not match the witness line "
                                   f"posted in chat: the chain was rewritten")
            if cp is None:
                raise AuditChainBroken(seq, "the checkpoint witnessed in chat is missing "
                                            "from the database")
            if not hmac.compare_digest(bytes(cp.sig), w.sig) or cp.ts_us != w.ts_us:
                raise AuditChainBroken(seq, "the checkpoint differs from its witness line")
            self.witnessed += 1
            self.witnessed_seq = seq
        if cp is None:
            return
        if not self._signed(cp):
            raise self._broken(f"checkpoint at seq {seq} has an invalid signature or an "
                               f"unknown key: entries after seq {self.last_good} are "
                               f"unverified")
        if not hmac.compare_digest(bytes(cp.prev_sig), self.prev_sig):
            raise self._broken(f"checkpoint at seq {seq} does not link to the previous "
                               f"checkpoint: a checkpoint was removed or replaced")
        if not hmac.compare_digest(bytes(cp.head_hash), head):
            raise self._broken(f"entries {self.last_good + 1}..{seq} do not match the head "
                               f"signed at checkpoint {seq}: the chain was rewritten")
        if self.coverage is not None:
            check_gap(self.coverage, self.last_good, seq)
        self.last_good, self.last_good_ts, self.prev_sig = seq, cp.ts_us, bytes(cp.sig)
        self.verified += 1

    def finish(self, head_seq: int) -> None:
        """Checkpoints or witnesses beyond the last entry mean the tail was cut off."""
        beyond = sorted(s for s in (*self.cps, *self.wits) if s > head_seq)
        if not beyond:
            return
        seq = beyond[0]
        cp = self.cps.get(seq)
        if cp is not None and not self._signed(cp):
            raise AuditChainBroken(seq, "a checkpoint with an invalid signature lies beyond "
                                        "the end of the log")
        source = "checkpoint" if cp is not None else "witness line"
        raise AuditChainBroken(head_seq + 1, f"log truncated: it ends at seq {head_seq} but "
                                             f"a signed {source} covers seq {seq}")
