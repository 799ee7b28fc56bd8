"""Checkpoint coverage: no stretch of the audit log may go unsigned longer than promised.

Why this exists: a database writer without the signing key can delete entries and
re-chain the rest - the hash chain is unkeyed - and delete the checkpoints that covered
them. Every hash then links and every checkpoint left is genuine, so the chain checks
alone said "OK". What the writer cannot do is sign. So the log's writer
(:class:`medcrypt.storage.audit.AuditLog`, with a signing key) keeps three promises, and
the verifier holds the bytes to them (docs/adr/0004-audit-log.md, "Coverage"):

1. **Count.** At most ``every`` entries lie between two checkpoints, or after the last.
2. **Late entries.** An entry written ``interval`` or more after the last checkpoint's
   signed time is signed in its own transaction: a checkpoint closes that transaction,
   and every entry of one transaction carries the same timestamp. So a late entry may
   only be followed by entries of its own timestamp up to the checkpoint that closes it.
3. **Open tail.** Entries after the last checkpoint are accepted only while that
   checkpoint is younger than ``interval`` plus ``grace`` (the bot's maintenance tick
   signs a tail that waited past the interval); ``now`` comes from the caller's clock.

Since checkpoints are signed off the append path (ADR 0036, ``off_path``), a writer
keeps rule 1 between checkpoints and rule 3, but no longer rule 2 (the checkpointer
may be minutes behind, or hours during a key-provider outage), and the open tail may
hold more than ``every`` entries while the checkpointer catches up: the tail is bounded
by the last checkpoint's age alone. Rule 2 stays for logs judged with ``off_path=False``.

A cut that kept any entry written after the last surviving checkpoint's interval breaks
rule 2 (or rule 3 while nothing signed over it). What none of these can see is a log cut
back exactly to a genuine checkpoint with nothing kept after it: it looks like a bot
that stopped there. The witness lines posted to the admins' chat catch that, which is
why the verdict says whether it was checked against them.

Pure: integers in, :class:`~medcrypt.crypto.errors.AuditChainBroken` out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from medcrypt.crypto.errors import AuditChainBroken

#: A threshold no int64 timestamp reaches: no entry is late (coverage not checked).
NEVER = 2**63
#: A threshold every timestamp reaches: a late transaction is open, watch every entry.
ALWAYS = -(2**63) - 1
_MINUTE_US = 60_000_000


@dataclass(frozen=True)
class CoveragePolicy:
    """The writer's checkpoint policy, and the verifier's clock reading.

    ``grace_us`` is how long past the interval an open tail may wait for the signer's
    periodic tick (the bot's runs every five minutes).
    """

    every: int
    interval_us: int
    now_us: int
    grace_us: int = 10 * _MINUTE_US
    #: Checkpoints are signed off the append path (ADR 0036): rule 2 (a late entry is
    #: signed in its own transaction) is no longer a promise, and the open tail is
    #: bounded by the last checkpoint's age only - entries waiting for the checkpointer
    #: are not a failure while it is younger than the interval plus the grace.
    off_path: bool = False

    @property
    def late_interval_us(self) -> int | None:
        """The interval rule 2 watches with, or None when it does not apply."""
        return None if self.off_path else self.interval_us

    def __post_init__(self) -> None:
        if self.every < 1 or self.interval_us <= 0 or self.grace_us < 0:
            raise ValueError("coverage needs every >= 1, interval > 0 and grace >= 0")


@dataclass(frozen=True)
class Pending:
    """A late entry whose transaction has not met its checkpoint yet (rule 2)."""

    cp_seq: int
    cp_ts_us: int
    seq: int
    ts_us: int


def _minutes(us: int) -> str:
    return f"{max(us, 0) // _MINUTE_US} min"


def unclosed(p: Pending, interval_us: int) -> AuditChainBroken:
    """Rule 2 broken: a late entry's transaction ended, or the log did, unsigned.

    The reason names the checkpoint and the entry's time, not its seq: a slice worker
    that meets the transaction half-way must word it as the sequential walk does.
    """
    if p.cp_seq == 0:
        return AuditChainBroken(1, "entries from seq 1 on have no signed checkpoint: the "
                                   "log was written without a signing key, or rewritten")
    return AuditChainBroken(
        p.cp_seq + 1,
        f"entries written {_minutes(p.ts_us - p.cp_ts_us)} after checkpoint {p.cp_seq}, "
        f"past the {_minutes(interval_us)} interval, are without a signed checkpoint: "
        f"entries after seq {p.cp_seq} were cut, inserted or rewritten")


class LateWatch:
    """Rule 2 during one walk over rows in seq order (the whole log, or one slice).

    ``checkpoint_times`` maps every checkpoint's seq to its signed time; the walker calls
    :meth:`late` for a row whose timestamp reached :attr:`late_at`, and :meth:`stop` at
    every checkpoint or witness seq, after the checkpoint itself was checked. Both
    return the threshold for the next row. ``interval_us=None`` watches nothing.
    """

    __slots__ = ("cp_seq", "cp_ts", "interval", "late_at", "pending", "times")

    def __init__(self, interval_us: int | None, checkpoint_times: Mapping[int, int],
                 first_seq: int = 1) -> None:
        self.interval = interval_us
        self.times = checkpoint_times
        self.pending: Pending | None = None
        before = [s for s in checkpoint_times if s < first_seq] if isinstance(
            first_seq, int) else []
        self.cp_seq = max(before, default=0)
        self.cp_ts = checkpoint_times[self.cp_seq] if self.cp_seq else 0
        self.late_at = NEVER if interval_us is None else self.cp_ts + interval_us

    def late(self, seq: int, ts_us: int) -> int:
        if self.pending is None:
            self.pending = Pending(self.cp_seq, self.cp_ts, seq, ts_us)
        elif ts_us != self.pending.ts_us:
            raise unclosed(self.pending, self.interval or 0)
        self.late_at = ALWAYS
        return ALWAYS

    def stop(self, seq: int, ts_us: int) -> int:
        cp_ts = self.times.get(seq)
        if cp_ts is None or self.interval is None:
            return self.late_at
        if self.pending is not None and self.pending.ts_us != ts_us:
            raise unclosed(self.pending, self.interval)
        self.pending = None
        self.cp_seq, self.cp_ts = seq, cp_ts
        self.late_at = cp_ts + self.interval
        return self.late_at


def check_gap(policy: CoveragePolicy, prev_seq: int, seq: int) -> None:
    """Rule 1 between two checkpoints (the later one already verified)."""
    between = seq - prev_seq - 1
    if between > policy.every:
        raise AuditChainBroken(prev_seq + 1,
                               f"{between} entries between checkpoints {prev_seq} and {seq} "
                               f"without a signed checkpoint, more than the {policy.every} "
                               f"the log allows: entries were inserted")


def check_tail(policy: CoveragePolicy, cp_seq: int, cp_ts_us: int, head_seq: int,
               pending: Pending | None) -> None:
    """Rules 2, 1 and 3 after the last entry: what the last checkpoint left open."""
    if pending is not None:
        raise unclosed(pending, policy.interval_us)
    tail = head_seq - cp_seq
    if tail <= 0:
        return
    if tail > policy.every and not policy.off_path:
        raise AuditChainBroken(cp_seq + 1,
                               f"the {tail} newest entries are without a signed checkpoint, "
                               f"more than the {policy.every} the log allows")
    waited = policy.now_us - cp_ts_us
    if waited > policy.interval_us + policy.grace_us:
        raise AuditChainBroken(
            cp_seq + 1,
            f"the {tail} newest entries (seq {cp_seq + 1}..{head_seq}) have waited "
            f"{_minutes(waited)} since checkpoint {cp_seq} without a signed checkpoint, "
            f"past the {_minutes(policy.interval_us)} interval: the log was cut back to "
            "them, or its writer stopped without signing them (or the checkpointer cannot "
            "reach the key provider: see `medcrypt-bot doctor`)")
