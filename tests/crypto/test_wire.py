"""The keyless token codec: exact layouts, strict parsing, only typed errors escape."""

from __future__ import annotations

import base64
import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medcrypt.crypto.errors import MalformedToken, MedCryptError
from medcrypt.crypto.keyless import epochs, wire
from medcrypt.crypto.keyless.wire import Direction, Kind

PID = bytes(range(16))
NONCE = bytes(range(100, 124))


def _message(epoch: int = 670, direction: Direction = Direction.PATIENT_TO_PHYSICIAN,
             index: int = 7, ct: bytes = b"\x01" * 40) -> bytes:
    return wire.encode_sealed_header(Kind.MESSAGE, PID, epoch=epoch, direction=direction,
                                     index=index, nonce=NONCE) + ct


def test_message_header_layout_is_exact() -> None:
    raw = _message()
    assert len(wire.encode_sealed_header(Kind.MESSAGE, PID, epoch=670,
                                         direction=Direction.PATIENT_TO_PHYSICIAN,
                                         index=7, nonce=NONCE)) == 51
    assert raw[:2] == b"\x02\x01"
    assert raw[2:18] == PID
    assert raw[18:22] == (670).to_bytes(4, "big")
    assert raw[22] == 0
    assert raw[23:27] == (7).to_bytes(4, "big")
    assert raw[27:51] == NONCE


def test_round_trip_text_form() -> None:
    raw = _message()
    text = wire.encode_token(raw)
    assert text.startswith("[MEDCRYPT:v2:") and text.endswith("]")
    assert "=" not in text and not set("_*~`") & set(text)
    token = wire.parse_token("  \n" + text + " \n")
    assert token.raw == raw
    h = token.header
    assert (h.version, h.kind, h.pairing_id, h.epoch, h.direction, h.index) == (
        2, Kind.MESSAGE, PID, 670, Direction.PATIENT_TO_PHYSICIAN, 7)
    assert token.nonce == NONCE and token.header_bytes == raw[:51] and token.body == raw[51:]


def test_find_tokens_in_chat_text() -> None:
    a, b = wire.encode_token(_message(index=1)), wire.encode_token(_message(index=2))
    assert wire.find_tokens(f"hello {a}\n*bold* {b} bye") == [a, b]
    assert wire.find_tokens("no tokens [MEDCRYPT:v2:] here") == []


@pytest.mark.parametrize("text", [
    "", "[MEDCRYPT:v2:]", "[MEDCRYPT:v1:AAAA]", "MEDCRYPT:v2:AAAA", "[MEDCRYPT:v2:AAAA",
    "[MEDCRYPT:v2:AA=A]", "[MEDCRYPT:v2:A]", "[MEDCRYPT:v2:AB_C]", "[MEDCRYPT:v2:AAAAB]",
    "x [MEDCRYPT:v2:AgEAAA] y",
])
def test_malformed_texts_rejected(text: str) -> None:
    with pytest.raises(MalformedToken):
        wire.parse_token(text)


def test_non_canonical_base64_rejected() -> None:
    raw = _message()
    payload = base64.b64encode(raw).decode().rstrip("=")
    assert len(payload) % 4 != 0  # 91 bytes -> trailing bits exist
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(payload[-1])
    twisted = payload[:-1] + alphabet[last | 1]
    assert twisted != payload
    with pytest.raises(MalformedToken, match="canonical"):
        wire.parse_token(f"[MEDCRYPT:v2:{twisted}]")


@pytest.mark.parametrize("mutate", [
    lambda r: bytes([3]) + r[1:],            # unknown version
    lambda r: r[:1] + bytes([9]) + r[2:],    # unknown kind
    lambda r: r[:22] + bytes([2]) + r[23:],  # bad direction
    lambda r: r[:60],                         # shorter than header + tag
    lambda r: r[:18] + (epochs.MAX_EPOCH).to_bytes(4, "big") + r[22:],
])
def test_bad_binary_fields_rejected(mutate: object) -> None:
    raw = mutate(_message())  # type: ignore[operator]
    with pytest.raises(MalformedToken):
        wire.parse_raw(raw)


def test_register_and_accept_layouts() -> None:
    reg = wire.encode_register(PID, 670, 7, 1_800_000_000)
    token = wire.parse_token(wire.encode_token(reg))
    assert token.header.kind is Kind.PAIR_REGISTER and token.header.epoch == 670
    assert token.register == wire.RegisterInfo(1, 7, 1_800_000_000)
    assert len(reg) == 22 + 11
    acc = wire.encode_accept(PID, b"\x01" + b"\x00" * 96)
    token = wire.parse_token(wire.encode_token(acc))
    assert token.header.kind is Kind.PAIR_ACCEPT and token.header.pairing_id == PID
    with pytest.raises(MalformedToken):
        wire.parse_raw(acc + b"\x00")
    with pytest.raises(MalformedToken):
        wire.parse_raw(acc[:18] + b"\x02" + acc[19:])
    with pytest.raises(MalformedToken):
        wire.parse_raw(reg[:-1])


def test_part_layout() -> None:
    raw = wire.encode_part(b"\x07" * 16, 1, 3, b"abc")
    token = wire.parse_raw(raw)
    assert token.part == wire.PartInfo(b"\x07" * 16, 1, 3, b"abc")
    assert token.header.pairing_id is None and token.header.index is None
    for bad in (wire.PART_HEADER.pack(2, 5, b"\x07" * 16, 3, 3) + b"a",
                wire.PART_HEADER.pack(2, 5, b"\x07" * 16, 0, 1) + b"a",
                wire.PART_HEADER.pack(2, 5, b"\x07" * 16, 0, 2)):
        with pytest.raises(MalformedToken):
            wire.parse_raw(bad)


def test_file_header() -> None:
    data = wire.encode_file_header(PID, 670, Direction.PHYSICIAN_TO_PATIENT, b"\x09" * 16)
    assert len(data) == 42 and data[:5] == b"MCF3\x03"  # writers write the padded format
    header = wire.parse_file_header(data + b"stream...")
    assert (header.version, header.pairing_id, header.epoch, header.direction,
            header.file_id) == (3, PID, 670, Direction.PHYSICIAN_TO_PATIENT, b"\x09" * 16)
    assert header.raw == data
    old = wire.encode_file_header(PID, 670, Direction.PHYSICIAN_TO_PATIENT, b"\x09" * 16,
                                  version=2)
    assert old[:5] == b"MCF2\x02" and wire.parse_file_header(old).version == 2
    for bad in (data[:41], b"MCF1" + data[4:], data[:4] + b"\x01" + data[5:],
                data[:4] + b"\x02" + data[5:], old[:4] + b"\x03" + old[5:],
                data[:25] + b"\x05" + data[26:]):
        with pytest.raises(MalformedToken):
            wire.parse_file_header(bad)
    with pytest.raises(MalformedToken):
        wire.encode_file_header(PID, 670, Direction.PHYSICIAN_TO_PATIENT, b"\x09" * 16,
                                version=4)


def test_epoch_arithmetic() -> None:
    assert epochs.epoch_of(datetime(1970, 1, 31, 23, tzinfo=UTC)) == 0
    assert epochs.epoch_of(datetime(2026, 11, 23, tzinfo=UTC)) == 682
    assert epochs.epoch_start(682) == datetime(2026, 11, 1, tzinfo=UTC)
    assert epochs.epoch_end(683) == datetime(2027, 1, 1, tzinfo=UTC)
    assert epochs.grace_end(682) == datetime(2026, 12, 8, tzinfo=UTC)
    assert epochs.grace_end(682, 0) == datetime(2026, 12, 1, tzinfo=UTC)
    assert epochs.format_epoch(682) == "2026-11"
    assert epochs.parse_month("2026-11") == 682
    assert epochs.is_readable(682, datetime(2026, 12, 7, 23, 59, tzinfo=UTC))
    assert not epochs.is_readable(682, datetime(2026, 12, 8, tzinfo=UTC))
    assert not epochs.is_readable(683, datetime(2026, 11, 30, tzinfo=UTC))
    for bad in ("2026-13", "1969-12", "26-11", "2026/11"):
        with pytest.raises(MalformedToken):
            epochs.parse_month(bad)
    with pytest.raises(MalformedToken):
        epochs.grace_end(682, 1000)
    with pytest.raises(MalformedToken):
        epochs.epoch_start(-1)


@settings(deadline=None)
@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 11, 30),
                    timezones=st.just(UTC)))
def test_epoch_of_start_consistent(at: datetime) -> None:
    e = epochs.epoch_of(at)
    assert epochs.epoch_start(e) <= at < epochs.epoch_end(e)
    assert epochs.parse_month(epochs.format_epoch(e)) == e


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_parse_raw_raises_only_project_errors(data: bytes) -> None:
    with contextlib.suppress(MedCryptError):
        wire.parse_raw(data)
    with contextlib.suppress(MedCryptError):
        wire.parse_file_header(data)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.builds(lambda s: "[MEDCRYPT:v2:" + s + "]",
                                         st.text("ABCabc0123+/=_-", max_size=120)))
def test_parse_token_raises_only_project_errors(text: str) -> None:
    try:
        token = wire.parse_token(text)
    except MedCryptError:
        return
    assert wire.encode_token(token.raw) == text.strip()


@settings(deadline=None)
@given(st.binary(min_size=1, max_size=400))
def test_payload_round_trip(raw: bytes) -> None:
    text = wire.encode_token(raw)
    assert wire.decode_payload(text[13:-1]) == raw


@pytest.mark.parametrize("inner", ["AgEA\nAAAA", "AgEA AAAA", "AgEA\u00e9AAA", "AgEA-AAA",
                                   "AgE=AAAA"])
def test_payload_with_foreign_characters_rejected(inner: str) -> None:
    with pytest.raises(MalformedToken):
        wire.parse_token(f"[MEDCRYPT:v2:{inner}]")


@settings(deadline=None)
@given(st.binary(min_size=1, max_size=64), st.integers(min_value=0, max_value=63))
def test_only_the_canonical_last_character_is_accepted(raw: bytes, twist: int) -> None:
    payload = wire.encode_token(raw)[13:-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    other = payload[:-1] + alphabet[twist]
    if other == payload:
        return
    try:
        decoded = wire.decode_payload(other)
    except MalformedToken:
        return
    assert decoded != raw  # a different accepted text must mean different bytes


def test_is_readable_includes_the_clock_skew() -> None:
    """One rule (PROTOCOL §2): next month's tokens are readable 5 minutes early."""
    assert epochs.is_readable(683, datetime(2026, 11, 30, 23, 57, tzinfo=UTC))
    assert epochs.is_readable(683, datetime(2026, 11, 30, 23, 55, tzinfo=UTC))
    assert not epochs.is_readable(683, datetime(2026, 11, 30, 23, 54, 59, 999999, tzinfo=UTC))
