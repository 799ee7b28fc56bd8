"""A 10,000-entry log verifies; tampering done with SQL is detected and located.

Each test gets its own copy of a log built through the real append path (batched; built
once per worker and backend, tests/support/audit.py), then plays an attacker with write
access to the database but not to the signing key: plain SQL against the tables, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
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
from tests.support.audit import _row, _set, _shift, filled_audit_engine

N = 10_000


@pytest.fixture
def audit_engine(backend: str, tmp_path: Path) -> Iterator[Engine]:
    """This test's copy of a log of ``N`` entries written through the real append path."""
    with filled_audit_engine(backend, N, tmp_path) as engine:
        yield engine


@pytest.fixture
def big_log(audit_log: AuditLog) -> AuditLog:
    return audit_log


def _broken(log: AuditLog, keys: dict, **kw: object) -> AuditChainBroken:
    with pytest.raises(AuditChainBroken) as info:
        log.verify(keys, **kw)  # type: ignore[arg-type]
    return info.value





def _checkpoint_seqs(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(CHECKPOINTS.c.seq).order_by(CHECKPOINTS.c.seq))
                    .scalars())


def test_ten_thousand_entries_verify(big_log: AuditLog, public_keys: dict) -> None:
    report = big_log.verify(public_keys)
    assert report.entries >= N and report.head_seq == report.entries
    assert report.checkpoints >= N // 500 - 1
    assert report.unsigned_tail < 500


def test_changed_field_is_located(big_log: AuditLog, audit_engine: Engine,
                                  public_keys: dict) -> None:
    original = _row(audit_engine, 4321)
    for column, value in (("action", "bot.started"), ("ts_us", original["ts_us"] + 1),
                          ("actor_ref", "system:bot"),
                          ("subject_ref", "patient:000000000000000000000000"),
                          ("prev_hash", bytes(32)), ("entry_hash", bytes(32))):
        _set(audit_engine, 4321, **{column: value})
        err = _broken(big_log, public_keys)
        assert err.seq in (4321, 4322), column  # a changed entry_hash shows at the next link
        _set(audit_engine, 4321, **{column: original[column]})
    big_log.verify(public_keys)


def test_changed_ciphertext_byte_is_located(big_log: AuditLog, audit_engine: Engine,
                                            public_keys: dict) -> None:
    details = bytearray(_row(audit_engine, 777)["details"])
    details[30] ^= 0x01
    _set(audit_engine, 777, details=bytes(details))
    err = _broken(big_log, public_keys)
    assert err.seq == 777 and "ciphertext" in err.reason


def test_deleted_entry_is_located(big_log: AuditLog, audit_engine: Engine,
                                  public_keys: dict) -> None:
    with audit_engine.begin() as conn:
        conn.execute(delete(ENTRIES).where(ENTRIES.c.seq == 5000))
    err = _broken(big_log, public_keys)
    assert err.seq == 5000 and "deleted" in err.reason
    _shift(audit_engine, 5000, -1)  # the careful attacker closes the gap
    err = _broken(big_log, public_keys)
    assert err.seq == 5000 and "deleted" in err.reason


def test_inserted_entry_is_located(big_log: AuditLog, audit_engine: Engine,
                                   public_keys: dict) -> None:
    before = _row(audit_engine, 3000)
    _shift(audit_engine, 3000, +1)
    forged = EntryFields(3001, before["ts_us"], before["actor_ref"], before["subject_ref"],
                         "admin.command", b"\x01" + bytes(60), before["entry_hash"])
    with audit_engine.begin() as conn:
        conn.execute(insert(ENTRIES).values(
            seq=3001, ts_us=forged.ts_us, actor_ref=forged.actor, subject_ref=forged.subject,
            action=forged.action, details=forged.details, prev_hash=forged.prev_hash,
            entry_hash=entry_hash(forged)))
    err = _broken(big_log, public_keys)
    assert err.seq == 3001 and "inserted" in err.reason


def test_swapped_entries_are_located(big_log: AuditLog, audit_engine: Engine,
                                     public_keys: dict) -> None:
    a, b = _row(audit_engine, 6000), _row(audit_engine, 6001)
    _set(audit_engine, 6000, **{k: v for k, v in b.items() if k != "seq"})
    _set(audit_engine, 6001, **{k: v for k, v in a.items() if k != "seq"})
    assert _broken(big_log, public_keys).seq == 6000


def test_truncated_tail_is_caught_by_checkpoint_then_by_witness(
    big_log: AuditLog, audit_engine: Engine, public_keys: dict
) -> None:
    last_cp = big_log.checkpoints(after_seq=9000)[-1]
    witness_file_text = f"pasted from chat:\n{format_witness(last_cp)}\n"
    cut = 9000
    cut_hash = _row(audit_engine, cut)["entry_hash"]
    with audit_engine.begin() as conn:
        conn.execute(delete(ENTRIES).where(ENTRIES.c.seq > cut))
        conn.execute(update(HEAD).values(seq=cut, entry_hash=cut_hash))
    err = _broken(big_log, public_keys)
    assert err.seq == cut + 1 and "truncated" in err.reason
    with audit_engine.begin() as conn:  # hide the evidence in the database too
        conn.execute(delete(CHECKPOINTS).where(CHECKPOINTS.c.seq > cut))
    assert big_log.verify(public_keys).head_seq == cut  # undetectable from inside
    err = _broken(big_log, public_keys, witnesses=parse_witness_lines(witness_file_text))
    assert err.seq == cut + 1 and "witness" in err.reason


def test_rewritten_chain_is_caught_by_signatures(
    big_log: AuditLog, audit_engine: Engine, public_keys: dict
) -> None:
    target = 7000
    last_good = max(s for s in _checkpoint_seqs(audit_engine) if s < target)
    with audit_engine.connect() as conn:
        rows = [list(r) for r in conn.execute(select(ENTRIES).where(ENTRIES.c.seq >= target)
                                             .order_by(ENTRIES.c.seq))]
    prev = _row(audit_engine, target - 1)["entry_hash"]
    rows[0][4] = "bot.started"  # the change the attacker wants to hide
    for r in rows:
        r[6] = prev
        prev = r[7] = entry_hash(EntryFields(*r[:7]))
    with audit_engine.begin() as conn:
        for r in rows:
            conn.execute(update(ENTRIES).where(ENTRIES.c.seq == r[0]).values(
                action=r[4], prev_hash=r[6], entry_hash=r[7]))
        conn.execute(update(HEAD).values(entry_hash=prev))
    err = _broken(big_log, public_keys)
    assert err.seq == last_good + 1 and "rewritten" in err.reason
    with audit_engine.begin() as conn:  # re-point checkpoints: signatures no longer match
        for r in rows:
            conn.execute(update(CHECKPOINTS).where(CHECKPOINTS.c.seq == r[0])
                         .values(head_hash=r[7]))
    err = _broken(big_log, public_keys)
    assert err.seq == last_good + 1 and "invalid signature" in err.reason
