"""crypto.audit without a database: exact bytes, refs, details sealing, checkpoints."""

from __future__ import annotations

import hashlib
import struct

import pytest

from medcrypt.crypto.errors import DecryptionFailed, MalformedToken
from medcrypt.crypto.server.audit import (
    GENESIS_HASH,
    SYSTEM_BOT,
    Action,
    CheckpointSigner,
    EntryFields,
    check_ref,
    checkpoint_signature_ok,
    decode_entry,
    encode_details,
    encode_entry,
    entry_hash,
    format_witness,
    open_details,
    parse_witness_lines,
    pseudonym,
    seal_details,
    system_ref,
)

FIELDS = EntryFields(7, 1795435200000000, "physician:00112233445566778899aabb",
                     "patient:ffeeddccbbaa998877665544", "relay.accepted", bytes(range(41)),
                     GENESIS_HASH)
#: Pinned: a change here breaks every existing log, so it must be deliberate (new label).
ENTRY_HASH_HEX = "b086250af1bf709dd29d5bef1dcb60e0d4c3664b5a4719ae9d815371e69610d4"
SIG_HEX = ("819cf4eefa38ee9a6ddd1dd99186681919b40cdad22ddb869046ba70a7f588bf"
           "62c7a15c30324872a2b2e42bfc10cf9414a873fd91b1798e1e6d0f119b321209")
WITNESS = ("MEDCRYPT-AUDIT v1 seq=500 head=b086250af1bf709dd29d5bef1dcb60e0 "
           "ts=2026-11-23T12:00:00Z sig=gZz07vo47ppt3R3ZkYZoGRm0DNrSLduGkEa6cKf1iL9ix6Fc"
           "MDJIcqKy5Cv8EM+UFKhz/ZGxeY4ebQ8RmzISCQ==")


def test_entry_encoding_is_the_documented_layout() -> None:
    a, s, c = (x.encode() for x in (FIELDS.actor, FIELDS.subject, FIELDS.action))
    expected = (b"MEDCRYPT-AUDIT-ENTRY\x00v1\x00"
                + struct.pack(">QqHHHI", 7, FIELDS.ts_us, len(a), len(s), len(c), 41)
                + a + s + c + bytes(range(41)) + bytes(32))
    assert encode_entry(FIELDS) == expected
    assert entry_hash(FIELDS) == hashlib.sha256(expected).digest()
    assert entry_hash(FIELDS).hex() == ENTRY_HASH_HEX


def test_every_field_changes_the_hash() -> None:
    base = entry_hash(FIELDS)
    variants = [FIELDS._replace(seq=8), FIELDS._replace(ts_us=FIELDS.ts_us + 1),
                FIELDS._replace(actor="physician:00112233445566778899aabc"),
                FIELDS._replace(subject="patient:ffeeddccbbaa998877665545"),
                FIELDS._replace(action="relay.refused"),
                FIELDS._replace(details=bytes(range(1, 42))),
                FIELDS._replace(prev_hash=b"\x01" * 32)]
    assert len({entry_hash(v) for v in variants} | {base}) == len(variants) + 1


def test_decode_round_trip_and_strictness() -> None:
    data = encode_entry(FIELDS)
    assert decode_entry(data) == FIELDS
    for bad in (data[:-1], data + b"\x00", b"X" + data[1:], data[:30],
                data.replace(b"relay.accepted", b"relay.acceptex")):
        with pytest.raises(MalformedToken):
            decode_entry(bad)


def test_pseudonyms_are_stable_keyed_and_opaque() -> None:
    key = bytes(32)
    ref = pseudonym(key, "patient", "+15551234567")
    assert ref == "patient:ddebcab9c09504e8417f0c42"
    assert pseudonym(key, "patient", "+15551234567") == ref
    assert pseudonym(bytes([1]) * 32, "patient", "+15551234567") != ref
    assert pseudonym(key, "physician", "+15551234567") != ref
    assert pseudonym(key, "patient", 15551234567) != ref  # typed: int and str differ
    assert "5551234567" not in ref
    with pytest.raises(ValueError, match="system"):
        pseudonym(key, "system", "x")
    with pytest.raises(TypeError):
        pseudonym(key, "patient", True)


@pytest.mark.parametrize("bad", ["+15551234567", "Jane Doe", "patient:+15551234567",
                                 "patient:ddebcab9c09504e8417f0c4", "PATIENT:" + "a" * 24,
                                 "system:Jane", "", "patient:" + "g" * 24])
def test_refs_refuse_names_and_numbers(bad: str) -> None:
    with pytest.raises(ValueError, match="pseudonym"):
        check_ref(bad)


def test_system_refs() -> None:
    assert system_ref("bot") == SYSTEM_BOT
    with pytest.raises(ValueError):
        system_ref("Bot 1")


def test_details_are_canonical_and_refuse_content_keys() -> None:
    assert encode_details({"b": 1, "a": [True, None, "x"]}) == b'{"a":[true,null,"x"],"b":1}'
    assert encode_details(None) == b"{}"
    for key in ("body", "text", "phone", "token", "name"):
        with pytest.raises(ValueError, match="content or an identifier"):
            encode_details({key: "x"})
    with pytest.raises(TypeError):
        encode_details({"nested": {"a": 1}})  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        encode_details({"Bad-Key": 1})
    with pytest.raises(ValueError, match="exceed"):
        encode_details({"reason": "x" * 5000})


def test_details_sealing_binds_seq_subject_and_action() -> None:
    key, subject = bytes(range(32)), "patient:ffeeddccbbaa998877665544"
    sealed = seal_details(key, 9, subject, "relay.refused", b'{"reason":"epoch"}',
                          rng=lambda n: b"\x07" * n)
    assert sealed[0] == 1 and sealed[1:25] == b"\x07" * 24
    assert open_details(key, 9, subject, "relay.refused", sealed) == {"reason": "epoch"}
    for args in ((bytes(32), 9, subject, "relay.refused"),
                 (key, 10, subject, "relay.refused"),
                 (key, 9, "patient:ffeeddccbbaa998877665545", "relay.refused"),
                 (key, 9, subject, "relay.accepted")):
        with pytest.raises(DecryptionFailed):
            open_details(*args, sealed)
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(DecryptionFailed):
        open_details(key, 9, subject, "relay.refused", flipped)


def test_checkpoint_signatures_are_deterministic_and_chained() -> None:
    signer = CheckpointSigner(bytes(range(1, 33)))
    cp = signer.sign(500, 1795435200123456, bytes.fromhex(ENTRY_HASH_HEX), b"")
    assert cp.ts_us == 1795435200000000  # truncated to whole seconds
    assert cp.sig.hex() == SIG_HEX
    keys = {signer.key_id: signer.public_key}
    assert checkpoint_signature_ok(cp, keys)
    nxt = signer.sign(1000, cp.ts_us + 3_600_000_000, b"\x02" * 32, cp.sig)
    assert checkpoint_signature_ok(nxt, keys)
    assert not checkpoint_signature_ok(nxt.__class__(**{**nxt.__dict__, "prev_sig": b""}), keys)
    assert not checkpoint_signature_ok(cp.__class__(**{**cp.__dict__, "seq": 501}), keys)
    other = CheckpointSigner(bytes(32))
    assert not checkpoint_signature_ok(cp, {other.key_id: other.public_key})


def test_witness_line_format_and_parse() -> None:
    signer = CheckpointSigner(bytes(range(1, 33)))
    cp = signer.sign(500, 1795435200123456, bytes.fromhex(ENTRY_HASH_HEX), b"")
    assert format_witness(cp) == WITNESS
    pasted = f"[23.11.26 12:00] MedCrypt Bot: Audit checkpoint\n{WITNESS}\n\nthanks\n"
    (w,) = parse_witness_lines(pasted)
    assert (w.seq, w.ts_us, w.sig) == (500, cp.ts_us, cp.sig)
    assert bytes.fromhex(ENTRY_HASH_HEX).startswith(w.head_prefix)
    short = WITNESS.replace("head=b086250af1bf709dd29d5bef1dcb60e0", "head=b086250af1bf709d")
    assert parse_witness_lines(short)[0].head_prefix == bytes.fromhex("b086250af1bf709d")


@pytest.mark.parametrize("damage", [
    lambda w: w.replace("seq=500", "seq=x"),
    lambda w: w.replace("head=b086", "head=zz86"),
    lambda w: w.replace("ts=2026-11-23T12:00:00Z", "ts=2026-13-23T12:00:00Z"),
    lambda w: w[:-5],
    lambda w: w.replace("seq=500", "seq=0"),
    lambda w: w.replace(" v1 ", " v2 "),
])
def test_damaged_witness_lines_are_errors_not_skipped(damage: object) -> None:
    with pytest.raises(MalformedToken):
        parse_witness_lines(damage(WITNESS))  # type: ignore[operator]


def test_action_vocabulary_covers_the_issue() -> None:
    needed = {"pairing.registered", "pairing.accepted", "pairing.consent_recorded",
              "pairing.unpaired", "relay.accepted", "relay.refused", "relay.plaintext_blocked",
              "keys.epoch_rotated", "keys.epoch_retired", "keys.epoch_shredded",
              "admin.command", "admin.refused", "webhook.forged", "breakglass.requested",
              "breakglass.approved", "breakglass.denied", "breakglass.exported",
              "breakglass.opened", "config.key_changed", "config.changed", "bot.started",
              "bot.stopped", "audit.checkpoint"}
    assert needed <= {a.value for a in Action}
    assert all(len(a.value) <= 40 for a in Action)
