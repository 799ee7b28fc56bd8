"""verify_chain over in-memory rows: every kind of tampering is found and located.

The database tests repeat the important cases with SQL on both backends; these pin
the verifier's logic and its messages cheaply, including the byte-stream path.
"""

from __future__ import annotations

import os

import pytest

from medcrypt.crypto.errors import AuditChainBroken
from medcrypt.crypto.server.audit import (
    CheckpointSigner,
    EntryFields,
    EntryRow,
    as_row,
    encode_entry,
    entry_hash,
    format_witness,
    parse_witness_lines,
    rows_from_records,
    verify_chain,
)
from tests.support.audit_chain import ACTOR, KEYS, SUBJECT, fields_of, make_chain, rehash


def broken(rows: list[EntryRow], cps: list, **kw: object) -> AuditChainBroken:
    with pytest.raises(AuditChainBroken) as info:
        verify_chain([rows], cps, KEYS, **kw)  # type: ignore[arg-type]
    return info.value


def test_intact_chain_verifies_in_batches() -> None:
    rows, cps = make_chain(1050)
    seen: list[int] = []
    report = verify_chain([rows[:500], rows[500:1000], rows[1000:]], cps, KEYS,
                          progress=seen.append, claimed_head=(1050, rows[-1][7]))
    assert (report.entries, report.head_seq, report.checkpoints) == (1050, 1050, 10)
    assert report.unsigned_tail == 50 and seen == [500, 1000, 1050]
    assert verify_chain([], [], KEYS).head_seq == 0


def test_changed_field() -> None:
    rows, cps = make_chain(500)
    rows[241] = (*rows[241][:4], b"relay.refused", *rows[241][5:])
    err = broken(rows, cps)
    assert err.seq == 242 and "field" in err.reason


def test_changed_ciphertext_byte() -> None:
    rows, cps = make_chain(500)
    d = bytearray(rows[99][5])
    d[17] ^= 0x40
    rows[99] = (*rows[99][:5], bytes(d), *rows[99][6:])
    assert broken(rows, cps).seq == 100


def test_deleted_entry_with_and_without_renumbering() -> None:
    rows, cps = make_chain(500)
    gap = rows[:299] + rows[300:]
    err = broken(gap, cps)
    assert err.seq == 300 and "deleted" in err.reason
    renumbered = rows[:299] + [(r[0] - 1, *r[1:]) for r in rows[300:]]
    err = broken(renumbered, cps)
    assert err.seq == 300 and "deleted" in err.reason


def test_inserted_entry_with_valid_hash_is_located() -> None:
    rows, cps = make_chain(500)
    forged = EntryFields(301, rows[299][1], ACTOR, SUBJECT, "relay.accepted", b"x" * 60,
                         rows[299][7])
    tampered = rows[:300] + [as_row(forged, entry_hash(forged))] + [(r[0] + 1, *r[1:])
                                                                for r in rows[300:]]
    err = broken(tampered, cps)
    assert err.seq == 301 and "inserted" in err.reason


def test_swapped_entries() -> None:
    rows, cps = make_chain(500)
    a, b = rows[399], rows[400]
    rows[399], rows[400] = (400, *b[1:]), (401, *a[1:])
    assert broken(rows, cps).seq == 400


def test_truncated_tail_caught_by_checkpoint_or_witness() -> None:
    rows, cps = make_chain(1000)
    err = broken(rows[:950], cps)
    assert err.seq == 951 and "truncated" in err.reason
    # The attacker also deletes the checkpoint rows: only the chat's witness can tell.
    assert verify_chain([rows[:950]], cps[:-1], KEYS).head_seq == 950
    witness = parse_witness_lines(format_witness(cps[-1]))
    err = broken(rows[:950], cps[:-1], witnesses=witness)
    assert err.seq == 951 and "witness line" in err.reason


def test_rewritten_chain_caught_by_signatures() -> None:
    rows, cps = make_chain(1000)
    rows[649] = (*rows[649][:4], b"bot.started", *rows[649][5:])
    rehash(rows, 650)
    err = broken(rows, cps)
    assert err.seq == 601 and "rewritten" in err.reason
    # Re-pointing the checkpoints at the new heads breaks their signatures instead.
    forged = [c if c.seq < 650 else c.__class__(**{**c.__dict__, "head_hash": rows[c.seq - 1][7]})
              for c in cps]
    err = broken(rows, forged)
    assert err.seq == 601 and "invalid signature" in err.reason
    # Re-signing with the attacker's own key: unknown key.
    _, own = make_chain(1000, signer=CheckpointSigner(os.urandom(32)), start=rows)
    assert broken(rows, own).seq == 1


def test_removed_middle_checkpoint_breaks_the_signature_chain() -> None:
    rows, cps = make_chain(500)
    err = broken(rows, cps[:2] + cps[3:])
    assert err.seq == 201 and "checkpoint" in err.reason


def test_witness_must_match_its_checkpoint_row() -> None:
    rows, cps = make_chain(500)
    witness = parse_witness_lines(format_witness(cps[1]))
    assert verify_chain([rows], cps, KEYS, witnesses=witness).witnesses == 1
    err = broken(rows, cps[:1], witnesses=witness)
    assert err.seq == 200 and "missing" in err.reason


def test_head_record_must_match() -> None:
    rows, cps = make_chain(300)
    err = broken(rows[:250], cps, claimed_head=(300, rows[-1][7]))
    assert err.seq == 251


def test_wrong_types_from_a_loose_database_are_breaks() -> None:
    rows, cps = make_chain(200)
    rows[10] = (11, "not a number", *rows[10][2:])
    assert broken(rows, cps).seq == 11


def test_byte_records_verify_through_the_decoder() -> None:
    rows, cps = make_chain(300)
    records = [encode_entry(fields_of(r)) + r[7] for r in rows]
    assert verify_chain([list(rows_from_records(records))], cps, KEYS).head_seq == 300


def test_rows_with_text_as_str_are_a_caller_error() -> None:
    rows, cps = make_chain(3)
    as_str = [(*r[:2], r[2].decode(), *r[3:]) for r in rows]
    with pytest.raises(TypeError, match="as_row"):
        verify_chain([as_str], cps, KEYS)
