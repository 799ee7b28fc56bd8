"""The PIN_RECORD token (PROTOCOL §34.3): exact length, v3 only, the box kept as sent."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcrypt.crypto.errors import MalformedToken
from medcrypt.crypto.keyless import record_wire, wire

ESCROW = bytes(range(1, 33))


def _raw() -> bytes:
    return record_wire.encode_record_token(os.urandom(16), os.urandom(210), ESCROW)


def test_round_trip_through_the_text_form() -> None:
    raw = _raw()
    assert len(raw) == record_wire.RECORD_TOKEN_LEN == 276
    token = wire.parse_token(wire.encode_token(raw))
    assert token.header.kind is wire.Kind.PIN_RECORD and token.header.version == 3
    assert token.header.pairing_id == raw[2:18]
    assert record_wire.parse_record_token(raw).sealed == raw[18:]


@given(st.integers(min_value=0, max_value=600).filter(lambda n: n != 276))
def test_any_other_length_is_rejected(n: int) -> None:
    raw = (_raw() * 3)[:n]
    with pytest.raises(MalformedToken):
        record_wire.parse_record_token(raw)
    if n >= 2:
        with pytest.raises(MalformedToken):
            wire.parse_raw(raw)


def test_kind_8_does_not_exist_in_v2() -> None:
    raw = bytearray(_raw())
    raw[0] = 2
    with pytest.raises(MalformedToken):
        wire.parse_raw(bytes(raw))


def test_a_record_of_the_wrong_size_is_not_sealed() -> None:
    with pytest.raises(MalformedToken):
        record_wire.encode_record_token(os.urandom(16), os.urandom(209), ESCROW)


def test_the_vector_opens_and_verifies_against_the_physician_key_only() -> None:
    import json
    from pathlib import Path

    from medcrypt.crypto import _primitives as prim
    from medcrypt.crypto.endpoint.v3.pinned import open_sealed_record
    from medcrypt.crypto.errors import WrongPairing

    v = json.loads((Path(__file__).parents[2] / "vectors" / "v3_pin_record.json").read_text())
    raw = bytes.fromhex(v["pin_record_token"])
    assert wire.encode_token(raw) == v["pin_record_text"]
    token = record_wire.parse_record_token(raw)
    assert token.pairing_id.hex() == v["pairing_id"]
    escrow = bytes.fromhex(v["escrow_private"])
    physician = bytes.fromhex(v["physician_identity_public"])
    record = open_sealed_record(escrow, token.sealed, physician)
    assert record.raw.hex() == v["record"]
    assert record.patient_identity.hex() == v["patient_identity_public"]
    with pytest.raises(WrongPairing):
        open_sealed_record(escrow, token.sealed, prim.x25519_public(os.urandom(32)))
