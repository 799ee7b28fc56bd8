"""v3 key-confirmed pairing, pure: the hijack variants fail in the companions themselves.

The bot-side half (admission, binding, abort) runs through the real bot in
tests/bot/test_v3_pairing_attacks.py.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint.pairing import Role
from medcrypt.crypto.endpoint.session import IdentityKey
from medcrypt.crypto.endpoint.v3 import pinned, verified
from medcrypt.crypto.endpoint.v3.offer import parse_offer_text_v3
from medcrypt.crypto.endpoint.v3.pairing import (
    LABEL_ACCEPT_SIGNATURE,
    accept_offer_v3,
    transcript_hash,
)
from medcrypt.crypto.endpoint.v3.physician import PhysicianState, create_offer_v3, parse_decision
from medcrypt.crypto.errors import (
    DecryptionFailed,
    MalformedToken,
    OfferExpired,
    OfferReused,
    PairingCancelled,
    PairingNotVerified,
    PeerKeyChanged,
    QrShared,
    WrongPairing,
)
from medcrypt.crypto.keyless import pairing_wire as pw
from medcrypt.crypto.keyless.wire import Kind, encode_token, parse_token
from tests.support.clocks import MovableClock

AT = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def _setup() -> tuple[MovableClock, IdentityKey, IdentityKey, object]:
    clock = MovableClock(AT)
    doctor, patient = IdentityKey.generate(), IdentityKey.generate()
    offer = create_offer_v3(doctor.public, clock=clock, escrow_public=os.urandom(32))
    return clock, doctor, patient, offer


def test_pairing_end_to_end_gives_matching_secrets_and_codes() -> None:
    clock, doctor, patient, physician = _setup()
    side = accept_offer_v3(physician.offer.to_qr_text(), patient, clock=clock)
    screen = physician.receive_accept(side.accept_token, clock=clock, account="whatsapp:+15550001")
    assert screen.code == side.code and len(side.code.replace(" ", "")) == 6
    assert screen.banner == "UNVERIFIED" and len(screen.accepts) == 1
    assert screen.accepts[0].account == "…01"
    done = physician.decide("confirm", doctor, clock=clock)
    mine = side.verify_confirmation(done.token)
    theirs = done.secrets
    assert mine.root_key == theirs.root_key and mine.transcript_hash == theirs.transcript_hash
    assert mine.role is Role.PATIENT and theirs.role is Role.PHYSICIAN
    assert mine.patient_ratchet_public == theirs.patient_ratchet_public
    assert mine.physician_ratchet_public == theirs.physician_ratchet_public
    assert mine.physician_ratchet_private is None and theirs.patient_ratchet_private is None
    assert mine.patient_ratchet_private is not None
    assert prim.x25519_public(mine.patient_ratchet_private) == mine.patient_ratchet_public
    assert theirs.physician_ratchet_private is not None
    assert prim.x25519_public(theirs.physician_ratchet_private) == theirs.physician_ratchet_public
    assert mine.peer_identity_public == doctor.public
    assert theirs.peer_identity_public == patient.public
    # what v2 wipes: the offer secret and ephemeral private key once used
    assert physician.offer_secret == bytearray(32) and physician.ephemeral_private == bytearray(32)
    assert physician.screen.banner == "VERIFIED"
    with pytest.raises(OfferReused):
        physician.receive_accept(side.accept_token, clock=clock)


def test_cancel_is_the_default_and_sends_nothing() -> None:
    clock, doctor, patient, physician = _setup()
    side = accept_offer_v3(physician.offer.to_qr_text(), patient, clock=clock)
    physician.receive_accept(side.accept_token, clock=clock)
    for answer in (None, "", "yes", "CONFIRM please", "y"):
        assert parse_decision(answer).value == "cancel"
    with pytest.raises(PairingCancelled):
        physician.decide("", doctor, clock=clock)
    assert physician.state is PhysicianState.CANCELLED
    with pytest.raises(OfferReused):
        physician.confirm(doctor, clock=clock)


def test_junk_accept_without_the_qr_fails_admission() -> None:
    clock, _doctor, patient, physician = _setup()
    stranger = IdentityKey.generate()
    eph = prim.x25519_public(os.urandom(32))
    prefix = pw.accept_prefix(physician.offer.pairing_id, os.urandom(32), eph, stranger.public)
    junk = encode_token(pw.encode_accept_v3(prefix, os.urandom(64)))
    with pytest.raises(DecryptionFailed):
        physician.receive_accept(junk, clock=clock)
    assert physician.state is PhysicianState.WAITING and physician.accepts == []
    side = accept_offer_v3(physician.offer.to_qr_text(), patient, clock=clock)
    assert physician.receive_accept(side.accept_token, clock=clock).code == side.code


def test_photo_holder_racing_the_patient_aborts_the_pairing() -> None:
    clock, doctor, patient, physician = _setup()
    photo = physician.offer.to_qr_text()
    thief = accept_offer_v3(photo, IdentityKey.generate(), clock=clock)
    real = accept_offer_v3(photo, patient, clock=clock)
    physician.receive_accept(thief.accept_token, clock=clock)
    with pytest.raises(QrShared, match="this QR was photographed or shared: pair again"):
        physician.receive_accept(real.accept_token, clock=clock)
    assert physician.state is PhysicianState.ABORTED and len(physician.accepts) == 2
    with pytest.raises(QrShared):
        physician.confirm(doctor, clock=clock)
    assert physician.offer_secret == bytearray(32)


def test_the_same_accept_relayed_twice_counts_once() -> None:
    clock, _doctor, patient, physician = _setup()
    side = accept_offer_v3(physician.offer.to_qr_text(), patient, clock=clock)
    physician.receive_accept(side.accept_token, clock=clock)
    physician.receive_accept(side.accept_token, clock=clock)
    assert physician.state is PhysicianState.UNVERIFIED and len(physician.accepts) == 1


def test_misbinding_real_identity_with_attacker_ephemeral_fails_the_signature() -> None:
    clock, _doctor, patient, physician = _setup()
    offer = physician.offer
    real = accept_offer_v3(offer.to_qr_text(), patient, clock=clock)
    real_accept = parse_token(real.accept_token).pairing3
    assert isinstance(real_accept, pw.AcceptV3)
    attacker_eph = prim.x25519_public(os.urandom(32))
    prefix = pw.accept_prefix(offer.pairing_id, offer.admission_value(), attacker_eph,
                              patient.public)
    forged = encode_token(pw.encode_accept_v3(prefix, real_accept.signature))
    with pytest.raises(DecryptionFailed):
        physician.receive_accept(forged, clock=clock)
    assert physician.state is PhysicianState.WAITING


def test_withheld_accept_shows_different_codes_and_patient_refuses_the_other_confirm() -> None:
    clock, doctor, patient, physician = _setup()
    photo = physician.offer.to_qr_text()
    real = accept_offer_v3(photo, patient, clock=clock)  # the bot never relays this one
    thief = accept_offer_v3(photo, IdentityKey.generate(), clock=clock)
    screen = physician.receive_accept(thief.accept_token, clock=clock)
    assert screen.code == thief.code and screen.code != real.code
    # Had the physician confirmed despite the mismatch, the real patient would refuse it.
    done = physician.confirm(doctor, clock=clock)
    with pytest.raises(QrShared):
        real.verify_confirmation(done.token)


def test_confirmation_from_another_identity_or_tampered_is_refused() -> None:
    clock, doctor, patient, physician = _setup()
    side = accept_offer_v3(physician.offer.to_qr_text(), patient, clock=clock)
    physician.receive_accept(side.accept_token, clock=clock)
    done = physician.confirm(doctor, clock=clock)
    raw = bytearray(parse_token(done.token).raw)
    raw[60] ^= 1  # inside the confirmation MAC: the signature no longer covers it
    with pytest.raises(DecryptionFailed):
        side.verify_confirmation(encode_token(bytes(raw)))
    other = IdentityKey.generate()
    info = parse_token(done.token).pairing3
    assert isinstance(info, pw.KeyConfirm)
    resigned = encode_token(pw.encode_confirm(
        info.signed_bytes, other.sign(b"MEDCRYPT v3 key confirm signature" + info.signed_bytes)))
    with pytest.raises(DecryptionFailed):
        side.verify_confirmation(resigned)
    assert side.verify_confirmation(done.token).root_key != bytearray(32)


def test_confirm_with_a_wrong_root_fails_the_mac() -> None:
    """A doctor identity that signs without holding RK0 (e.g. a stolen signing key but no
    offer secret) cannot produce the confirmation MAC."""
    clock, doctor, patient, physician = _setup()
    side = accept_offer_v3(physician.offer.to_qr_text(), patient, clock=clock)
    a_hash = pw.accept_hash(parse_token(side.accept_token).raw)
    prefix = pw.confirm_prefix(physician.offer.pairing_id, a_hash, os.urandom(32))
    forged = encode_token(pw.encode_confirm(
        prefix, doctor.sign(b"MEDCRYPT v3 key confirm signature" + prefix)))
    with pytest.raises(DecryptionFailed):
        side.verify_confirmation(forged)


def test_expired_offer_refused_on_both_sides() -> None:
    clock, doctor, patient, physician = _setup()
    side = accept_offer_v3(physician.offer.to_qr_text(), patient, clock=clock)
    clock.set(AT + timedelta(minutes=11))
    with pytest.raises(OfferExpired):
        accept_offer_v3(physician.offer.to_qr_text(), patient, clock=clock)
    with pytest.raises(OfferExpired):
        physician.receive_accept(side.accept_token, clock=clock)
    with pytest.raises(PairingCancelled):
        physician.confirm(doctor, clock=clock)


def test_foreign_pairing_and_self_pairing_refused() -> None:
    clock, doctor, patient, physician = _setup()
    _c, _d, _p, other = _setup()
    side = accept_offer_v3(other.offer.to_qr_text(), patient, clock=clock)
    with pytest.raises(WrongPairing):
        physician.receive_accept(side.accept_token, clock=clock)
    with pytest.raises(WrongPairing):
        accept_offer_v3(physician.offer.to_qr_text(), doctor, clock=clock)


def test_transcript_covers_escrow_key_and_policy() -> None:
    clock, _doctor, patient, physician = _setup()
    offer = physician.offer
    base = transcript_hash(offer, bytes(32), patient.public)
    from dataclasses import replace
    for changed in (replace(offer, escrow_public=os.urandom(32)),
                    replace(offer, escrow_public=None), replace(offer, grace_days=8),
                    replace(offer, bot_contact="x"), replace(offer, expires_at=1)):
        assert transcript_hash(changed, bytes(32), patient.public) != base
    assert transcript_hash(offer, bytes(32), patient.public) == base
    side = accept_offer_v3(offer.to_qr_text(), patient, clock=clock)
    info = parse_token(side.accept_token).pairing3
    assert isinstance(info, pw.AcceptV3)
    prim.ed25519_verify(patient.public, LABEL_ACCEPT_SIGNATURE + side.transcript, info.signature)


def test_every_other_length_is_rejected() -> None:
    clock, doctor, patient, physician = _setup()
    side = accept_offer_v3(physician.offer.to_qr_text(), patient, clock=clock)
    physician.receive_accept(side.accept_token, clock=clock)
    confirm = physician.confirm(doctor, clock=clock).token
    for text in (physician.offer.registration_token(), side.accept_token, confirm):
        raw = parse_token(text).raw
        for bad in (raw[:-1], raw + b"\x00"):
            with pytest.raises(MalformedToken):
                parse_token(encode_token(bad))
    assert parse_token(confirm).header.kind is Kind.KEY_CONFIRM
    register = parse_token(physician.offer.registration_token()).pairing3
    assert isinstance(register, pw.RegisterV3)
    assert register.admission_hash == pw.admission_hash(
        physician.offer.pairing_id, physician.offer.admission_value())


def test_version_of_text_and_binary_must_agree() -> None:
    _clock, _doctor, _patient, physician = _setup()
    text = physician.offer.registration_token()
    with pytest.raises(MalformedToken):
        parse_token(text.replace("[MEDCRYPT:v3:", "[MEDCRYPT:v2:"))


def test_offer_round_trip_and_damage() -> None:
    _clock, _doctor, _patient, physician = _setup()
    text = physician.offer.to_qr_text()
    assert text.startswith("medcrypt-pair:2:")
    assert parse_offer_text_v3(text) == physician.offer
    with pytest.raises(MalformedToken):
        parse_offer_text_v3(text[:-2] + ("A" if text[-2] != "A" else "B") + text[-1])
    with pytest.raises(MalformedToken):
        parse_offer_text_v3(text.replace("medcrypt-pair:2:", "medcrypt-pair:1:"))


def test_pinned_record_signs_and_verifies_against_the_enrolled_key() -> None:
    clock, doctor, patient, physician = _setup()
    side = accept_offer_v3(physician.offer.to_qr_text(), patient, clock=clock)
    physician.receive_accept(side.accept_token, clock=clock)
    secrets = physician.confirm(doctor, clock=clock).secrets
    record = pinned.sign_record(doctor, pairing_id=secrets.pairing_id,
                                transcript_hash=secrets.transcript_hash,
                                patient_identity=secrets.peer_identity_public,
                                escrow_public=secrets.escrow_public)
    back = pinned.verify_record(record.raw, doctor.public)
    assert back == record and back.patient_identity == patient.public
    with pytest.raises(WrongPairing):
        pinned.verify_record(record.raw, patient.public)
    tampered = bytearray(record.raw)
    tampered[20] ^= 1
    with pytest.raises(DecryptionFailed):
        pinned.verify_record(bytes(tampered), doctor.public)
    for bad in (record.raw[:-1], record.raw + b"\x00"):
        with pytest.raises(MalformedToken):
            pinned.verify_record(bad, doctor.public)
    with pytest.raises(MalformedToken):
        pinned.sign_record(doctor, pairing_id=secrets.pairing_id,
                           transcript_hash=secrets.transcript_hash,
                           patient_identity=patient.public, escrow_public=None)


def test_verified_state_is_bound_to_the_fingerprint() -> None:
    doctor, other = IdentityKey.generate(), IdentityKey.generate()
    pid = os.urandom(16)
    with pytest.raises(PairingNotVerified):
        verified.require_verified(None, pid, doctor.public)
    state = verified.mark_verified(pid, doctor.public, at=1)
    verified.require_verified(state, pid, doctor.public)
    with pytest.raises(PeerKeyChanged, match="changed"):
        verified.require_verified(state, pid, other.public)
    with pytest.raises(PairingNotVerified):
        verified.require_verified(state, os.urandom(16), doctor.public)


def _through_json(state: dict[str, object]) -> dict[str, object]:
    import json
    return json.loads(json.dumps(state))


def test_physician_state_survives_the_keystore_between_steps() -> None:
    from medcrypt.crypto.endpoint.v3.physician import PhysicianPairing

    clock, doctor, patient, physician = _setup()
    physician = PhysicianPairing.load(_through_json(physician.export()))
    side = accept_offer_v3(physician.offer.to_qr_text(), patient, clock=clock)
    code = physician.receive_accept(side.accept_token, clock=clock, account="tg:1234").code
    physician = PhysicianPairing.load(_through_json(physician.export()))
    assert physician.screen.code == code == side.code
    assert [a.account for a in physician.screen.accepts] == ["…34"]
    physician.receive_accept(side.accept_token, clock=clock)  # still counted once
    done = physician.confirm(doctor, clock=clock)
    assert side.verify_confirmation(done.token).root_key == done.secrets.root_key
    closed = _through_json(physician.export())
    assert closed["offer"] is None and closed["ephemeral_private"] is None
    assert closed["candidate"] is None
    with pytest.raises(OfferReused):
        PhysicianPairing.load(closed).receive_accept(side.accept_token, clock=clock)


def test_aborted_state_stays_aborted_and_damage_is_a_storage_error() -> None:
    from medcrypt.crypto.endpoint.v3.physician import PhysicianPairing
    from medcrypt.crypto.errors import StorageError

    clock, _doctor, patient, physician = _setup()
    photo = physician.offer.to_qr_text()
    physician.receive_accept(accept_offer_v3(photo, patient, clock=clock).accept_token,
                             clock=clock)
    other = accept_offer_v3(photo, IdentityKey.generate(), clock=clock)
    with pytest.raises(QrShared):
        physician.receive_accept(other.accept_token, clock=clock)
    again = PhysicianPairing.load(_through_json(physician.export()))
    with pytest.raises(QrShared):
        again.receive_accept(other.accept_token, clock=clock)
    for damaged in ({}, {**physician.export(), "format": "x"},
                    {**physician.export(), "state": "nope"}):
        with pytest.raises(StorageError):
            PhysicianPairing.load(damaged)


def test_patient_state_survives_the_keystore_and_is_bound_to_its_identity() -> None:
    from medcrypt.crypto.endpoint.v3.offer import parse_offer_bytes_v3
    from medcrypt.crypto.endpoint.v3.pairing import PatientPairing
    from medcrypt.crypto.errors import StorageError

    clock, doctor, patient, physician = _setup()
    side = accept_offer_v3(physician.offer.to_qr_text(), patient, clock=clock)
    state = _through_json(side.export())
    stored_offer = parse_offer_bytes_v3(prim.b64d(state["offer"]))
    assert stored_offer.offer_secret == bytes(32)  # the patient keeps no offer secret
    with pytest.raises(StorageError):
        PatientPairing.load(state, IdentityKey.generate())
    with pytest.raises(StorageError):
        PatientPairing.load({**state, "root": "AAAA"}, patient)
    loaded = PatientPairing.load(state, patient)
    assert loaded.code == side.code
    physician.receive_accept(side.accept_token, clock=clock)
    done = physician.confirm(doctor, clock=clock)
    assert loaded.verify_confirmation(done.token).root_key == done.secrets.root_key
    finished = _through_json(loaded.export())
    assert finished["root"] is None and finished["ephemeral_private"] is None
    with pytest.raises(OfferReused):
        PatientPairing.load(finished, patient).verify_confirmation(done.token)
