"""QR pairing: single use, expiry, MAC, transcript binding, strict offer parsing."""

from __future__ import annotations

import base64
import contextlib
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.endpoint import pairing, safety
from medcrypt.crypto.endpoint.session import (
    IdentityKey,
    PairingSession,
    accept_pairing,
    complete_pairing,
    start_pairing,
)
from medcrypt.crypto.errors import (
    DecryptionFailed,
    MalformedToken,
    MedCryptError,
    OfferExpired,
    OfferReused,
    ReplayDetected,
    StorageError,
    WrongPairing,
)
from medcrypt.crypto.keyless import wire
from tests.support.sessions import T0, DetRng


def _setup(label: str = "p") -> tuple[IdentityKey, IdentityKey, FixedClock, pairing.PendingOffer]:
    rng = DetRng(label)
    doc, pat = IdentityKey.generate(rng), IdentityKey.generate(rng)
    clock = FixedClock(T0)
    pending = start_pairing(doc, clock=clock, rng=rng, bot_contact="whatsapp:+15550100")
    return doc, pat, clock, pending


def test_qr_text_grammar_and_round_trip() -> None:
    _doc, _pat, _clock, pending = _setup()
    text = pending.offer.to_qr_text()
    assert text.startswith("medcrypt-pair:1:") and "https" not in text
    assert pairing.parse_offer_text("  " + text + "\n") == pending.offer
    assert pairing.parse_offer_text(text.replace("medcrypt-pair", "MEDCRYPT-PAIR")) == pending.offer
    assert pending.offer.expires_at == int((T0 + timedelta(minutes=10)).timestamp())


def test_registration_token_carries_no_secret() -> None:
    _doc, _pat, _clock, pending = _setup()
    token = wire.parse_token(pending.offer.registration_token())
    assert token.header.kind is wire.Kind.PAIR_REGISTER
    assert token.header.pairing_id == pending.offer.pairing_id and token.header.epoch == 682
    assert token.register == wire.RegisterInfo(1, 7, pending.offer.expires_at)
    for secret in (pending.offer.offer_secret, bytes(pending.ephemeral_private),
                   pending.offer.identity_public):
        assert secret not in token.raw


def test_pairing_completes_and_offer_is_single_use() -> None:
    doc, pat, clock, pending = _setup()
    patient, accept = accept_pairing(pending.offer.to_qr_text(), pat, clock=clock)
    physician = complete_pairing(pending, accept, doc, clock=clock)
    assert physician.safety_number() == patient.safety_number()
    assert pending.used and pending.ephemeral_private == bytearray(32)
    assert pending.offer_secret == bytearray(32)
    with pytest.raises(OfferReused):
        complete_pairing(pending, accept, doc, clock=clock)
    exported = pending.export()
    assert exported["offer"] is None and exported["ephemeral_private"] is None
    with pytest.raises(OfferReused):
        complete_pairing(pairing.PendingOffer.load(exported), accept, doc, clock=clock)


def test_pending_offer_survives_export() -> None:
    doc, pat, clock, pending = _setup()
    restored = pairing.PendingOffer.load(pending.export())
    _patient, accept = accept_pairing(pending.offer.to_qr_text(), pat, clock=clock)
    complete_pairing(restored, accept, doc, clock=clock)
    with pytest.raises(StorageError):
        pairing.PendingOffer.load({"used": False, "offer": "AAAA", "ephemeral_private": "x"})


def test_expired_offer_refused_on_both_sides() -> None:
    doc, pat, clock, pending = _setup()
    text = pending.offer.to_qr_text()
    _patient, accept = accept_pairing(text, pat, clock=clock)
    clock.set(T0 + timedelta(minutes=10))
    with pytest.raises(OfferExpired):
        accept_pairing(text, pat, clock=clock)
    with pytest.raises(OfferExpired):
        complete_pairing(pending, accept, doc, clock=clock)


def test_swapped_key_or_tampered_accept_rejected() -> None:
    doc, pat, clock, pending = _setup()
    _patient, accept = accept_pairing(pending.offer.to_qr_text(), pat, clock=clock)
    raw = wire.parse_token(accept).raw
    for pos in (19, 40, 60, len(raw) - 1):  # patient eph key, identity key, MAC
        bad = bytearray(raw)
        bad[pos] ^= 2
        with pytest.raises((DecryptionFailed, MalformedToken)):
            complete_pairing(pending, wire.encode_token(bytes(bad)), doc, clock=clock)
    # A bot that swaps in its own keys cannot forge the MAC without the offer secret.
    mallory = IdentityKey(b"\x66" * 32)
    forged_body = b"\x01" + prim.x25519_public(b"\x55" * 32) + mallory.public + b"\x00" * 32
    forged = wire.encode_token(wire.encode_accept(pending.offer.pairing_id, forged_body))
    with pytest.raises(DecryptionFailed):
        complete_pairing(pending, forged, doc, clock=clock)
    assert not pending.used  # failed attempts do not burn the offer
    complete_pairing(pending, accept, doc, clock=clock)


def test_accept_for_other_offer_and_self_pairing() -> None:
    doc, pat, clock, pending = _setup("one")
    _d2, _p2, _c2, other = _setup("two")
    _patient, accept = accept_pairing(other.offer.to_qr_text(), pat, clock=clock)
    with pytest.raises(WrongPairing):
        complete_pairing(pending, accept, doc, clock=clock)
    with pytest.raises(WrongPairing):
        accept_pairing(pending.offer.to_qr_text(), doc, clock=clock)


def test_third_party_with_the_qr_cannot_read() -> None:
    doc, pat, clock, pending = _setup()
    qr = pending.offer.to_qr_text()
    patient, accept = accept_pairing(qr, pat, clock=clock)
    physician = complete_pairing(pending, accept, doc, clock=clock)
    token = patient.encrypt(b"HIV test result", clock=clock).token
    # The eavesdropper saw the QR and the accept token; its own accept gives another root.
    eve_session, _eve_accept = accept_pairing(qr, IdentityKey(b"\x77" * 32), clock=clock)
    state = eve_session.export_state()
    state["role"] = "physician"
    state["own_identity"], state["peer_identity"] = (
        base64.b64encode(doc.public).decode(), base64.b64encode(pat.public).decode())
    with pytest.raises(DecryptionFailed):
        PairingSession.from_state(state, doc).decrypt(token, clock=clock)
    assert physician.decrypt(token, clock=clock).body == b"HIV test result"
    with pytest.raises(ReplayDetected):
        physician.decrypt(token, clock=clock)


@pytest.mark.parametrize("text", [
    "", "https://example.org/pair", "medcrypt-pair:2:AAAA", "medcrypt-pair:1:", "medcrypt-pair:1:A",
    "medcrypt-pair:1:AAAA", "medcrypt-pair:1:" + "A" * 2000,
])
def test_malformed_offer_texts(text: str) -> None:
    with pytest.raises(MalformedToken):
        pairing.parse_offer_text(text)


def test_offer_checksum_catches_typos() -> None:
    _doc, _pat, _clock, pending = _setup()
    text = pending.offer.to_qr_text()
    i = len("medcrypt-pair:1:") + 30
    typo = text[:i] + ("B" if text[i] != "B" else "C") + text[i + 1:]
    with pytest.raises(MalformedToken, match="damaged"):
        pairing.parse_offer_text(typo)


def test_safety_number_shape() -> None:
    a, b = b"\x01" * 32, b"\x02" * 32
    number = safety.safety_number(a, b)
    assert number == safety.safety_number(b, a)
    groups = number.split(" ")
    assert len(groups) == 12 and all(len(g) == 5 and g.isdigit() for g in groups)
    assert number != safety.safety_number(a, b"\x03" * 32)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300) | st.binary(max_size=250).map(
    lambda b: "medcrypt-pair:1:" + base64.urlsafe_b64encode(b).decode().rstrip("=")))
def test_offer_parser_raises_only_project_errors(text: str) -> None:
    with contextlib.suppress(MedCryptError):
        pairing.parse_offer_text(text)
