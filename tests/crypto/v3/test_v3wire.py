"""The keyless v3 MESSAGE codec: exact layout, strict ranges, deposit stripping, and the
shared parser taking both versions (properties over arbitrary input)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medcrypt.crypto.errors import MalformedToken
from medcrypt.crypto.keyless import parts, v3wire, wire
from medcrypt.crypto.keyless.epochs import MAX_EPOCH
from medcrypt.crypto.keyless.wire import Direction, Kind

u32 = st.integers(0, 0xFFFFFFFF)


@st.composite
def headers(draw: st.DrawFn) -> dict[str, object]:
    epoch = draw(st.integers(0, MAX_EPOCH - 1))
    chain_epoch = draw(st.integers(0, epoch))
    prev_len = draw(u32)
    if prev_len == 0:
        prev_epoch = 0
    elif epoch > chain_epoch:
        prev_epoch = draw(st.integers(chain_epoch, epoch - 1))
    else:
        prev_epoch = draw(st.integers(0, epoch))
    return {"pairing_id": draw(st.binary(min_size=16, max_size=16)), "epoch": epoch,
            "direction": draw(st.sampled_from(Direction)),
            "chain_id": draw(st.binary(min_size=32, max_size=32)), "chain_epoch": chain_epoch,
            "index": draw(u32), "prev_epoch": prev_epoch, "prev_len": prev_len,
            "nonce": draw(st.binary(min_size=24, max_size=24))}


@given(headers(), st.booleans(), st.binary(min_size=16, max_size=64))
def test_a_message_round_trips_with_and_without_its_deposit(
    fields: dict[str, object], with_deposit: bool, body: bytes,
) -> None:
    header = v3wire.encode_header(**fields)  # type: ignore[arg-type]
    assert len(header) == v3wire.HEADER_LEN == 95
    deposit = bytes(range(234)) if with_deposit else None
    text = v3wire.encode_text(v3wire.encode_message(header, deposit, body))
    token = v3wire.parse_message_text(text)
    assert token.header.raw == header and token.deposit == deposit and token.body == body
    stripped, view, found = v3wire.strip_deposit(text)
    assert found == deposit and view.has_deposit is with_deposit
    assert v3wire.parse_message_text(stripped).header == token.header
    assert (view.pairing_id, view.epoch, view.direction, view.chain_id) == (
        fields["pairing_id"], fields["epoch"], fields["direction"], fields["chain_id"])
    assert view.starts_chain is (fields["epoch"] == fields["chain_epoch"])
    parsed = wire.parse_token(text)  # the shared parser the bot uses
    assert parsed.header.version == 3 and parsed.header.kind is Kind.MESSAGE
    assert parsed.header.epoch == fields["epoch"]


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_are_malformed_or_a_message_with_one_encoding(raw: bytes) -> None:
    try:
        token = v3wire.parse_message(raw)
    except MalformedToken:
        return
    assert v3wire.encode_message(token.header.raw, token.deposit, token.body.tobytes()) == raw


def _raw(**change: int) -> bytearray:
    fields: dict[str, object] = {"pairing_id": bytes(16), "epoch": 683, "direction": 1,
                                 "chain_id": bytes(range(32)), "chain_epoch": 682, "index": 4,
                                 "prev_epoch": 682, "prev_len": 3, "nonce": bytes(24)}
    fields.update(change)
    return bytearray(struct.pack(">BB16sIB32sIIII24s", 3, 1, *fields.values()) + bytes(2 + 16))


@pytest.mark.parametrize(("what", "raw"), [
    ("version 2", bytearray([2]) + _raw()[1:]),
    ("kind 4 (no standalone deposit in v3)", _raw()[:1] + bytearray([4]) + _raw()[2:]),
    ("direction 2", _raw(direction=2)),
    ("epoch out of the calendar", _raw(epoch=MAX_EPOCH, prev_epoch=682)),
    ("chain month after the token's", _raw(chain_epoch=684)),
    ("previous segment of no messages named", _raw(prev_len=0)),
    ("re-key whose previous segment is not before it", _raw(prev_epoch=683)),
    ("re-key whose previous segment precedes its chain", _raw(prev_epoch=681)),
    ("truncated", _raw()[:96]),
])
def test_invalid_headers_are_malformed(what: str, raw: bytearray) -> None:
    with pytest.raises(MalformedToken):
        v3wire.parse_message(bytes(raw))


@pytest.mark.parametrize("length", [1, 233, 235, 0xFFFF])
def test_any_other_deposit_length_is_malformed(length: int) -> None:
    raw = _raw()
    raw[95:97] = length.to_bytes(2, "big")
    with pytest.raises(MalformedToken):
        v3wire.parse_message(bytes(raw) + bytes(300))


def test_text_and_binary_versions_must_agree() -> None:
    raw = bytes(_raw())
    v2_text = "[MEDCRYPT:v2:" + v3wire.encode_text(raw)[len("[MEDCRYPT:v3:"):]
    with pytest.raises(MalformedToken):
        wire.parse_token(v2_text)
    with pytest.raises(MalformedToken):
        v3wire.parse_message_text(v2_text)
    assert wire.find_tokens(f"see {v3wire.encode_text(raw)} here") == [v3wire.encode_text(raw)]


def test_a_long_v3_token_splits_into_v3_parts_and_joins() -> None:
    text = v3wire.encode_text(bytes(_raw()) + bytes(3000))
    pieces = parts.split_token(text, 1600, rng=lambda n: b"\x07" * n)
    assert len(pieces) > 1 and all(p.startswith("[MEDCRYPT:v3:") for p in pieces)
    assert parts.join_parts(pieces) == text
