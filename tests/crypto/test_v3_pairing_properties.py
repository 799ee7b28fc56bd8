"""Hypothesis properties of the v3 pairing parsers and derivations."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from medcrypt.crypto.endpoint.v3 import pinned
from medcrypt.crypto.endpoint.v3.offer import OfferV3, parse_offer_text_v3
from medcrypt.crypto.endpoint.v3.pairing import verification_code
from medcrypt.crypto.errors import MalformedToken, MedCryptError
from medcrypt.crypto.keyless import pairing_wire as pw
from medcrypt.crypto.keyless.epochs import MAX_EPOCH, MAX_GRACE_DAYS
from medcrypt.crypto.keyless.wire import Kind, encode_token, parse_token

b16 = st.binary(min_size=16, max_size=16)
b32 = st.binary(min_size=32, max_size=32)
b64 = st.binary(min_size=64, max_size=64)
EXACT = {pw.KIND_PAIR_REGISTER: pw.REGISTER_LEN, pw.KIND_PAIR_ACCEPT: pw.ACCEPT_LEN,
         pw.KIND_KEY_CONFIRM: pw.CONFIRM_LEN}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_parse_raises_only_malformed(data: bytes) -> None:
    with contextlib.suppress(MalformedToken):
        pw.parse_v3_pairing(data)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(EXACT)), st.integers(0, 400))
def test_every_other_length_is_rejected(kind: int, length: int) -> None:
    raw = bytes([3, kind]) + bytes(max(0, length - 2))
    raw = raw[:length] if length >= 2 else raw[:2]
    if len(raw) == EXACT[kind]:
        return
    try:
        pw.parse_v3_pairing(raw)
    except MalformedToken:
        return
    raise AssertionError(f"kind {kind} accepted {len(raw)} bytes")


@settings(max_examples=100, deadline=None)
@given(b16, st.integers(0, MAX_EPOCH - 1), st.integers(0, 0xFFFF),
       st.integers(0, 2**64 - 1), b32)
def test_register_round_trips(pid: bytes, epoch: int, grace: int, expires: int,
                              h_a: bytes) -> None:
    token = parse_token(encode_token(pw.encode_register_v3(pid, epoch, grace, expires, h_a)))
    info = token.pairing3
    assert isinstance(info, pw.RegisterV3) and token.header.kind is Kind.PAIR_REGISTER
    assert (info.pairing_id, info.start_epoch, info.grace_days, info.expires_at,
            info.admission_hash) == (pid, epoch, grace, expires, h_a)


@settings(max_examples=100, deadline=None)
@given(b16, b32, b32, b32, b64, b32, b32)
def test_accept_and_confirm_round_trip(pid: bytes, adm: bytes, eph: bytes, ident: bytes,
                                       sig: bytes, a_hash: bytes, mac: bytes) -> None:
    raw = pw.encode_accept_v3(pw.accept_prefix(pid, adm, eph, ident), sig)
    info = parse_token(encode_token(raw)).pairing3
    assert isinstance(info, pw.AcceptV3)
    assert (info.pairing_id, info.admission, info.patient_ephemeral, info.patient_identity,
            info.signature) == (pid, adm, eph, ident, sig)
    assert info.accept_hash == pw.accept_hash(raw)
    assert pw.admits(pw.admission_hash(pid, adm), info)
    confirm = pw.encode_confirm(pw.confirm_prefix(pid, a_hash, mac), sig)
    back = parse_token(encode_token(confirm)).pairing3
    assert isinstance(back, pw.KeyConfirm)
    assert (back.accept_hash, back.confirm_mac, back.signature) == (a_hash, mac, sig)


@settings(max_examples=100, deadline=None)
@given(b16, b32, b32, b32, st.integers(0, MAX_EPOCH - 1), st.integers(0, MAX_GRACE_DAYS),
       st.integers(0, 2**64 - 1), st.none() | b32, st.text(max_size=20))
def test_offer_round_trips(pid: bytes, secret: bytes, eph: bytes, ident: bytes, epoch: int,
                           grace: int, expires: int, escrow: bytes | None,
                           contact: str) -> None:
    if len(contact.encode()) > 64:
        return
    offer = OfferV3(pid, secret, eph, ident, epoch, grace, expires, escrow, contact)
    assert parse_offer_text_v3(offer.to_qr_text()) == offer
    assert offer.to_qr_text().startswith("medcrypt-pair:2:")


@settings(max_examples=200, deadline=None)
@given(b32, b32)
def test_verification_code_is_six_digits(root: bytes, transcript: bytes) -> None:
    code = verification_code(root, transcript)
    assert len(code) == 7 and code[3] == " " and code.replace(" ", "").isdigit()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=260))
def test_pinned_record_parser_raises_only_project_errors(data: bytes) -> None:
    with contextlib.suppress(MedCryptError):
        pinned.verify_record(data, bytes(32))


def test_offer_expiry_is_exclusive() -> None:
    offer = OfferV3(bytes(16), bytes(32), bytes(32), bytes(32), 0, 7, 1000, None, "")
    assert offer.expired(datetime.fromtimestamp(1000, UTC))
    assert not offer.expired(datetime.fromtimestamp(999, UTC))
