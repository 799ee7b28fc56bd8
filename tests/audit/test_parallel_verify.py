"""The parallel verifier gives exactly the sequential verdict, for every tampering case.

Each case gets its own copy of a real log (batched appends, checkpoints every ~500
entries, written once per worker: tests/support/audit.py), plays the attacker with SQL,
then verifies twice: ``jobs=1`` (one process, the reference) and with worker processes
(forced on this small log with ``parallel_from=1``). The two outcomes - the report, or
the first bad seq and its reason - must be identical. The cases repeat
tests/audit/test_tampering.py and add the ones that only matter when the log is cut into
slices: tampering at the first, second and last row of a slice, deletions, insertions
and swaps across a slice boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, insert, select, update

from medcrypt.crypto.errors import AuditChainBroken
from medcrypt.crypto.server.audit import (
    EntryFields,
    entry_hash,
    format_witness,
    parse_witness_lines,
)
from medcrypt.storage.audit import CHECKPOINTS, ENTRIES, HEAD, AuditLog
from medcrypt.storage.audit import parallel as _audit_parallel_mod
from medcrypt.storage.audit.parallel import plan_slices
from tests.support.audit import _row, _set, _shift, filled_audit_engine

N = 1_500
JOBS = 3

Case = Callable[[Engine, AuditLog], dict]


@pytest.fixture
def audit_engine(backend: str, tmp_path: Path) -> Iterator[Engine]:
    """This test's copy of a log of ``N`` entries written through the real append path."""
    with filled_audit_engine(backend, N, tmp_path) as engine:
        yield engine





def _cut(engine: Engine) -> int:
    """The first seq of the second slice (what the workers will get)."""
    with engine.connect() as conn:
        slices = plan_slices(conn, JOBS, 1)
    assert slices is not None and len(slices) == JOBS
    return slices[1][0] + 1


def _changed(column: str, where: Callable[[Engine], int]) -> Case:
    def case(engine: Engine, log: AuditLog) -> dict:
        seq = where(engine)
        value = _row(engine, seq)[column]
        if isinstance(value, bytes):
            flipped = bytearray(value)
            flipped[len(flipped) // 2] ^= 0x01
            new: object = bytes(flipped)
        elif isinstance(value, int):
            new = value + 1
        else:
            new = "system:bot" if column != "action" else "bot.started"
        _set(engine, seq, **{column: new})
        return {}
    return case


def _deleted(where: Callable[[Engine], int], renumber: bool) -> Case:
    def case(engine: Engine, log: AuditLog) -> dict:
        seq = where(engine)
        with engine.begin() as conn:
            conn.execute(delete(ENTRIES).where(ENTRIES.c.seq == seq))
        if renumber:
            _shift(engine, seq, -1)
        return {}
    return case


def _inserted(where: Callable[[Engine], int]) -> Case:
    def case(engine: Engine, log: AuditLog) -> dict:
        seq = where(engine) - 1
        before = _row(engine, seq)
        _shift(engine, seq, +1)
        forged = EntryFields(seq + 1, before["ts_us"], before["actor_ref"],
                             before["subject_ref"], "admin.command", b"\x01" + bytes(60),
                             before["entry_hash"])
        with engine.begin() as conn:
            conn.execute(insert(ENTRIES).values(
                seq=seq + 1, ts_us=forged.ts_us, actor_ref=forged.actor,
                subject_ref=forged.subject, action=forged.action, details=forged.details,
                prev_hash=forged.prev_hash, entry_hash=entry_hash(forged)))
        return {}
    return case


def _swapped(where: Callable[[Engine], int]) -> Case:
    def case(engine: Engine, log: AuditLog) -> dict:
        seq = where(engine) - 1
        a, b = _row(engine, seq), _row(engine, seq + 1)
        _set(engine, seq, **{k: v for k, v in b.items() if k != "seq"})
        _set(engine, seq + 1, **{k: v for k, v in a.items() if k != "seq"})
        return {}
    return case


def _truncated(hide_checkpoints: bool) -> Case:
    def case(engine: Engine, log: AuditLog) -> dict:
        witness = format_witness(log.checkpoints(after_seq=N - 600)[-1])
        cut = N - 500
        cut_hash = _row(engine, cut)["entry_hash"]
        with engine.begin() as conn:
            conn.execute(delete(ENTRIES).where(ENTRIES.c.seq > cut))
            conn.execute(update(HEAD).values(seq=cut, entry_hash=cut_hash))
            if hide_checkpoints:
                conn.execute(delete(CHECKPOINTS).where(CHECKPOINTS.c.seq > cut))
        return {"witnesses": parse_witness_lines(witness)} if hide_checkpoints else {}
    return case


def _rewritten(repoint_checkpoints: bool) -> Case:
    def case(engine: Engine, log: AuditLog) -> dict:
        target = _cut(engine) + 7
        with engine.connect() as conn:
            rows = [list(r) for r in conn.execute(
                select(ENTRIES).where(ENTRIES.c.seq >= target).order_by(ENTRIES.c.seq))]
        prev = _row(engine, target - 1)["entry_hash"]
        rows[0][4] = "bot.started"
        for r in rows:
            r[6] = prev
            prev = r[7] = entry_hash(EntryFields(*r[:7]))
        with engine.begin() as conn:
            for r in rows:
                conn.execute(update(ENTRIES).where(ENTRIES.c.seq == r[0]).values(
                    action=r[4], prev_hash=r[6], entry_hash=r[7]))
                if repoint_checkpoints:
                    conn.execute(update(CHECKPOINTS).where(CHECKPOINTS.c.seq == r[0])
                                 .values(head_hash=r[7]))
            conn.execute(update(HEAD).values(entry_hash=prev))
        return {}
    return case


def _middle_checkpoint_removed(engine: Engine, log: AuditLog) -> dict:
    seqs = [cp.seq for cp in log.checkpoints()]
    with engine.begin() as conn:
        conn.execute(delete(CHECKPOINTS).where(CHECKPOINTS.c.seq == seqs[len(seqs) // 2]))
    return {}


def _head_rolled_back(engine: Engine, log: AuditLog) -> dict:
    with engine.begin() as conn:
        conn.execute(update(HEAD).values(seq=N - 10, entry_hash=_row(engine, N - 10)
                                         ["entry_hash"]))
    return {}


def _intact(engine: Engine, log: AuditLog) -> dict:
    return {"witnesses": parse_witness_lines(format_witness(log.checkpoints()[1]))}


def _at(offset: int) -> Callable[[Engine], int]:
    """A seq relative to the first row of the second slice (0 = that first row)."""
    return lambda engine: _cut(engine) + offset


COLUMNS = ("ts_us", "actor_ref", "subject_ref", "action", "details", "prev_hash",
           "entry_hash")
CASES: dict[str, tuple[Case, bool]] = {
    "intact": (_intact, False),
    # Every stored column, at both sides of a slice boundary (a changed entry_hash at
    # the last row of a slice only shows at the next slice's first link).
    **{f"{column}@{where}": (_changed(column, _at(off)), True)
       for column in COLUMNS for where, off in (("last-of-slice", -1), ("first-of-slice", 0))},
    **{f"{column}@second-of-slice": (_changed(column, _at(1)), True)
       for column in ("prev_hash", "entry_hash", "details")},
    "ts_us@inside": (_changed("ts_us", _at(250)), True),
    "changed-seq-1": (_changed("details", lambda e: 1), True),
    "deleted@first-of-slice": (_deleted(_at(0), renumber=False), True),
    "deleted@last-of-slice": (_deleted(_at(-1), renumber=False), True),
    "deleted-renumbered@first-of-slice": (_deleted(_at(0), renumber=True), True),
    "inserted@first-of-slice": (_inserted(_at(0)), True),
    "inserted@second-of-slice": (_inserted(_at(1)), True),
    "swapped@across-boundary": (_swapped(_at(0)), True),
    "swapped@inside": (_swapped(_at(123)), True),
    "truncated-tail": (_truncated(hide_checkpoints=False), True),
    "truncated-tail-witness-only": (_truncated(hide_checkpoints=True), True),
    "rewritten-chain": (_rewritten(repoint_checkpoints=False), True),
    "rewritten-chain-checkpoints-repointed": (_rewritten(repoint_checkpoints=True), True),
    "middle-checkpoint-removed": (_middle_checkpoint_removed, True),
    "head-rolled-back": (_head_rolled_back, True),
}


#: Cases also run with two workers (other slice boundaries than the ones tampered at).
TWO_WORKER_CASES = {"intact", "entry_hash@last-of-slice", "swapped@across-boundary",
                    "rewritten-chain", "truncated-tail-witness-only", "head-rolled-back"}


def _outcome(log: AuditLog, keys: dict, jobs: int, **kw: object) -> tuple:
    try:
        report = log.verify(keys, jobs=jobs, parallel_from=1, **kw)  # type: ignore[arg-type]
    except AuditChainBroken as exc:
        return ("broken", exc.seq, exc.reason)
    return ("ok", report)


@pytest.mark.parametrize("name", sorted(CASES))
def test_parallel_verdict_equals_sequential(
    name: str, audit_log: AuditLog, audit_engine: Engine, public_keys: dict,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tamper, should_break = CASES[name]
    kw = tamper(audit_engine, audit_log)
    parallel_runs: list[int] = []
    real = _audit_parallel_mod.verify_parallel

    def spy(*args: object, **kwargs: object) -> object:
        parallel_runs.append(len(args[2]))  # type: ignore[arg-type]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_audit_parallel_mod, "verify_parallel", spy)
    sequential = _outcome(audit_log, public_keys, 1, **kw)
    assert parallel_runs == []
    jobs_tried = (2, JOBS) if name in TWO_WORKER_CASES else (JOBS,)
    for jobs in jobs_tried:
        assert _outcome(audit_log, public_keys, jobs, **kw) == sequential, (name, jobs)
    assert parallel_runs == list(jobs_tried)
    assert (sequential[0] == "broken") == should_break, sequential
