"""Hypothesis properties of the two parsers: witness lines and canonical entries."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medcrypt.crypto.errors import MalformedToken
from medcrypt.crypto.server.audit import (
    Action,
    Checkpoint,
    EntryFields,
    decode_entry,
    encode_entry,
    format_witness,
    parse_witness_lines,
)

hexref = st.builds(lambda kind, h: f"{kind}:{h}", st.sampled_from(["patient", "physician",
                                                                   "pairing", "admin"]),
                   st.binary(min_size=12, max_size=12).map(bytes.hex))
sysref = st.from_regex(r"system:[a-z][a-z_]{0,23}", fullmatch=True)
refs = st.one_of(hexref, sysref)
entries = st.builds(
    EntryFields,
    seq=st.integers(1, 2**63 - 1), ts_us=st.integers(-(2**63), 2**63 - 1), actor=refs,
    subject=refs, action=st.sampled_from([a.value for a in Action]),
    details=st.binary(max_size=300), prev_hash=st.binary(min_size=32, max_size=32))
checkpoints = st.builds(
    Checkpoint, seq=st.integers(1, 2**63 - 1),
    ts_us=st.integers(0, 253402300799).map(lambda s: s * 1_000_000),
    head_hash=st.binary(min_size=32, max_size=32), key_id=st.binary(min_size=8, max_size=8),
    prev_sig=st.binary(max_size=64), sig=st.binary(min_size=64, max_size=64))


@given(entries)
def test_entry_encoding_round_trips(f: EntryFields) -> None:
    assert decode_entry(encode_entry(f)) == f


@given(entries, st.data())
def test_entry_decoder_rejects_or_round_trips_any_mutation(f: EntryFields, data: st.DataObject
                                                           ) -> None:
    raw = bytearray(encode_entry(f))
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= data.draw(st.integers(1, 255))
    try:
        decoded = decode_entry(bytes(raw))
    except MalformedToken:
        return
    assert encode_entry(decoded) == bytes(raw)  # anything accepted is canonical


@given(st.binary(max_size=400))
def test_entry_decoder_raises_only_malformed(data: bytes) -> None:
    with contextlib.suppress(MalformedToken):
        decode_entry(data)


@given(checkpoints, st.text(max_size=40).filter(lambda t: "MEDCRYPT-AUDIT" not in t))
def test_witness_round_trips_inside_chat_noise(cp: Checkpoint, noise: str) -> None:
    line = format_witness(cp)
    noise_lines = noise.splitlines() or [""]
    (w,) = parse_witness_lines("\n".join([*noise_lines, f"Bot: {line}", *noise_lines]))
    assert (w.seq, w.ts_us, w.sig) == (cp.seq, cp.ts_us, cp.sig)
    assert cp.head_hash.startswith(w.head_prefix) and len(w.head_prefix) == 16


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_witness_parser_raises_only_malformed(text: str) -> None:
    with contextlib.suppress(MalformedToken):
        parse_witness_lines(text)


@given(checkpoints, st.data())
def test_damaged_witness_never_vanishes_or_passes_as_the_original(
    cp: Checkpoint, data: st.DataObject
) -> None:
    line = format_witness(cp)
    i = data.draw(st.integers(0, len(line) - 1))
    mutated = line[:i] + data.draw(st.characters(codec="ascii")) + line[i + 1:]
    try:
        found = parse_witness_lines(mutated)
    except MalformedToken:
        return
    assert found, "a damaged witness line was skipped silently"
    w = found[0]
    if (w.seq, w.ts_us, w.sig, w.head_prefix) == (cp.seq, cp.ts_us, cp.sig, cp.head_hash[:16]):
        assert mutated.lower() == line.lower()  # only hex case changed


def test_a_non_canonical_signature_spelling_is_refused() -> None:
    """Found by the property above: the 86th base64 character of a 64-byte signature
    carries four unused bits, so 16 spellings decoded to the same signature and a
    altered witness line passed as the original."""
    cp = Checkpoint(186, 0, b"\0" * 32, b"\0" * 8, b"", b"\0" * 63 + b"\x03")
    line = format_witness(cp)
    at = line.index("==") - 1
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    twin = alphabet[alphabet.index(line[at]) | 0x0F]
    assert twin != line[at]
    with pytest.raises(MalformedToken):
        parse_witness_lines(line[:at] + twin + line[at + 1:])
    assert parse_witness_lines(line)[0].sig == cp.sig
