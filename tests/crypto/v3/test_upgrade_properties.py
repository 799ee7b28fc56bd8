"""Hypothesis properties of the upgrade parser (PROTOCOL §35.2-§35.3)."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from medcrypt.crypto.errors import MalformedToken
from medcrypt.crypto.keyless import upgrade_wire as uw
from medcrypt.crypto.keyless.epochs import MAX_EPOCH
from medcrypt.crypto.keyless.wire import Kind, encode_token, parse_token

b16 = st.binary(min_size=16, max_size=16)
b32 = st.binary(min_size=32, max_size=32)
b64 = st.binary(min_size=64, max_size=64)
EXACT = {uw.STEP_OFFER: uw.OFFER_LEN, uw.STEP_ANSWER: uw.ANSWER_LEN}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_parse_raises_only_malformed(data: bytes) -> None:
    with contextlib.suppress(MalformedToken):
        uw.parse_upgrade(data)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(EXACT)), st.integers(0, 400))
def test_every_other_length_is_rejected(step: int, length: int) -> None:
    raw = (bytes([3, 7]) + bytes(16) + bytes([step]) + bytes(400))[:length]
    if length == EXACT[step]:
        assert uw.parse_upgrade(raw)
        return
    try:
        uw.parse_upgrade(raw)
    except MalformedToken:
        return
    raise AssertionError(f"a {length}-byte step {step} token was accepted")


@settings(max_examples=200, deadline=None)
@given(b16, st.integers(0, MAX_EPOCH - 1), st.integers(0, 0xFFFF),
       st.integers(0, 2**64 - 1), st.one_of(st.none(), b32), b32, b64)
def test_offer_round_trips_through_the_token_text(
        pid: bytes, epoch: int, grace: int, expires: int, escrow: bytes | None,
        eph: bytes, sig: bytes) -> None:
    body = uw.offer_body(pid, start_epoch=epoch, grace_days=grace, expires_at=expires,
                         escrow_public=escrow, physician_ephemeral=eph)
    token = parse_token(encode_token(uw.with_signature(body, sig)))
    offer = token.upgrade
    assert token.header.kind is Kind.UPGRADE and isinstance(offer, uw.UpgradeOffer)
    assert (offer.pairing_id, offer.start_epoch, offer.grace_days, offer.expires_at,
            offer.escrow_public, offer.physician_ephemeral, offer.signature) == \
        (pid, epoch, grace, expires, escrow, eph, sig)


@settings(max_examples=200, deadline=None)
@given(b16, b32, b32, b64)
def test_answer_round_trips(pid: bytes, o_hash: bytes, eph: bytes, sig: bytes) -> None:
    raw = uw.with_signature(uw.answer_prefix(pid, o_hash, eph), sig)
    answer = uw.parse_upgrade(raw)
    assert isinstance(answer, uw.UpgradeAnswer)
    assert (answer.pairing_id, answer.offer_hash, answer.patient_ephemeral,
            answer.signature) == (pid, o_hash, eph, sig)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 255), st.integers(MAX_EPOCH, 2**32 - 1), st.integers(2, 255))
def test_bad_fields_are_rejected(step: int, epoch: int, flag: int) -> None:
    body = bytearray(uw.offer_body(bytes(16), start_epoch=0, grace_days=7, expires_at=1,
                                   escrow_public=None, physician_ephemeral=bytes(32)))
    bad_epoch = bytes(body[:19]) + epoch.to_bytes(4, "big") + bytes(body[23:])
    bad_flag = bytes(body[:33]) + bytes([flag]) + bytes(body[34:])
    zero_flag_with_key = bytes(body[:34]) + b"\x01" + bytes(body[35:])
    for raw in (bad_epoch, bad_flag, zero_flag_with_key):
        with contextlib.suppress(MalformedToken):
            uw.parse_upgrade(raw + bytes(64))
            raise AssertionError("an invalid offer field was accepted")
    if step not in (uw.STEP_OFFER, uw.STEP_ANSWER):
        wrong_step = bytes(body[:18]) + bytes([step]) + bytes(body[19:]) + bytes(64)
        with contextlib.suppress(MalformedToken):
            uw.parse_upgrade(wrong_step)
            raise AssertionError("an unknown step was accepted")
    v2 = bytes([2]) + bytes(body[1:]) + bytes(64)
    with contextlib.suppress(MalformedToken):
        parse_token(encode_token(v2))
        raise AssertionError("kind 7 in a v2 token was accepted")
