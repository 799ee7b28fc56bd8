"""v2 -> v3 upgrade (PROTOCOL §35): the exchange, its refusals, and what v2 keeps."""

from __future__ import annotations

from datetime import timedelta

import pytest

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint.session import IdentityKey
from medcrypt.crypto.endpoint.v3 import pinned
from medcrypt.crypto.endpoint.v3.retired import RetiredV2
from medcrypt.crypto.endpoint.v3.session import Session
from medcrypt.crypto.endpoint.v3.upgrade import (
    PhysicianUpgrade,
    answer_upgrade,
    offer_upgrade,
)
from medcrypt.crypto.errors import (
    DecryptionFailed,
    EpochShredded,
    MalformedToken,
    OfferExpired,
    StorageError,
    WrongPairing,
)
from medcrypt.crypto.keyless.upgrade_wire import ANSWER_LEN, OFFER_LEN, parse_upgrade
from medcrypt.crypto.keyless.wire import Kind, decode_payload, encode_token, parse_token
from tests.support.sessions import DetRng, Pair, make_pair


def _raw(token: str) -> bytes:
    return parse_token(token).raw


def _upgrade(pair: Pair, label: str = "up") -> tuple[Session, Session, RetiredV2, RetiredV2]:
    rng = DetRng(label)
    offer = offer_upgrade(pair.physician, pair.physician_id, clock=pair.clock, rng=rng)
    answer = answer_upgrade(offer.token, pair.patient, pair.patient_id, clock=pair.clock, rng=rng)
    done = offer.finish(answer.token, pair.physician, pair.physician_id, clock=pair.clock)
    return (Session.from_pairing(answer.upgraded.secrets), Session.from_pairing(done.secrets),
            answer.upgraded.retired, done.retired)


def test_upgrade_talks_v3_both_ways_and_v2_in_flight_still_opens() -> None:
    pair = make_pair("upgrade")
    in_flight = pair.physician.encrypt(b"v2 before upgrade", clock=pair.clock).token
    patient, physician, patient_v2, _ = _upgrade(pair)
    now = pair.clock.now()
    token = patient.encrypt(b"hello in v3", now=now)
    assert token.startswith("[MEDCRYPT:v3:")
    assert physician.decrypt(token, now=now).body == b"hello in v3"
    reply = physician.encrypt(b"answer in v3", now=now)
    assert patient.decrypt(reply, now=now).body == b"answer in v3"
    assert patient_v2.decrypt(in_flight, clock=pair.clock).body == b"v2 before upgrade"


def test_tokens_have_their_fixed_lengths_and_kind_7() -> None:
    pair = make_pair("lengths")
    offer = offer_upgrade(pair.physician, pair.physician_id, clock=pair.clock, rng=DetRng("l"))
    answer = answer_upgrade(offer.token, pair.patient, pair.patient_id, clock=pair.clock)
    assert len(_raw(offer.token)) == OFFER_LEN == 162
    assert len(_raw(answer.token)) == ANSWER_LEN == 147
    assert parse_token(offer.token).header.kind is Kind.UPGRADE
    for raw in (_raw(offer.token), _raw(answer.token)):
        for bad in (raw[:-1], raw + b"\x00"):
            with pytest.raises(MalformedToken):
                parse_token(encode_token(bad))
    v2_kind7 = bytes([2]) + _raw(offer.token)[1:]
    with pytest.raises(MalformedToken):
        parse_token(encode_token(v2_kind7))


def test_no_v2_key_is_an_input_of_the_v3_root() -> None:
    """Same fresh draws and identities, different v2 secrets: the same v3 root."""
    roots = []
    for label in ("v2-a", "v2-b"):
        pair = make_pair("same-ids")
        # Re-key v2 only (new pairing on the same identities would change the pairing id,
        # which is a public input): swap the v2 session's chains by sending a message.
        pair.physician.encrypt(label.encode(), clock=pair.clock)
        rng = DetRng("fixed-draws")
        offer = offer_upgrade(pair.physician, pair.physician_id, clock=pair.clock, rng=rng)
        answer = answer_upgrade(offer.token, pair.patient, pair.patient_id, clock=pair.clock,
                                rng=rng)
        roots.append(bytes(answer.upgraded.secrets.root_key))
    assert roots[0] == roots[1]


def test_v2_is_never_written_after_the_upgrade_and_its_next_key_is_gone() -> None:
    pair = make_pair("retire")
    _, _, patient_v2, physician_v2 = _upgrade(pair)
    for retired in (patient_v2, physician_v2):
        state = retired.export_state()
        assert "next_key" not in str(state) and "send" not in str(state)
        assert not hasattr(retired, "encrypt")
    with pytest.raises(StorageError):
        pair.patient.encrypt(b"v2 again", clock=pair.clock)  # the v2 object was wiped


def test_v2_month_is_shredded_at_its_grace_end() -> None:
    pair = make_pair("shred")
    late = pair.physician.encrypt(b"v2 in November", clock=pair.clock).token
    _, _, patient_v2, _ = _upgrade(pair)
    pair.clock.set(pair.clock.now() + timedelta(days=40))
    with pytest.raises(EpochShredded):
        patient_v2.decrypt(late, clock=pair.clock)
    assert patient_v2.live_epochs == []
    restored = RetiredV2.from_state(patient_v2.export_state())
    assert restored.shredded_epochs == patient_v2.shredded_epochs


def test_offer_signed_by_another_key_is_refused() -> None:
    pair = make_pair("forged")
    stranger = IdentityKey.generate(DetRng("stranger"))
    offer = offer_upgrade(pair.physician, pair.physician_id, clock=pair.clock)
    raw = _raw(offer.token)
    forged = raw[:98] + stranger.sign(b"MEDCRYPT v3 upgrade offer signature" + raw[:98])
    with pytest.raises(DecryptionFailed):
        answer_upgrade(encode_token(forged), pair.patient, pair.patient_id, clock=pair.clock)
    # Another ephemeral key swapped into the patient's signed answer: refused.
    answer = answer_upgrade(offer.token, pair.patient, pair.patient_id, clock=pair.clock)
    a_raw = _raw(answer.token)
    tampered = a_raw[:51] + bytes([a_raw[51] ^ 1]) + a_raw[52:]
    with pytest.raises((DecryptionFailed, MalformedToken)):
        offer.finish(encode_token(tampered), pair.physician, pair.physician_id, clock=pair.clock)


def test_answer_to_another_offer_and_expired_offers_are_refused() -> None:
    pair = make_pair("other-offer")
    first = offer_upgrade(pair.physician, pair.physician_id, clock=pair.clock, rng=DetRng("1"))
    second = offer_upgrade(pair.physician, pair.physician_id, clock=pair.clock, rng=DetRng("2"))
    answer = answer_upgrade(first.token, pair.patient, pair.patient_id, clock=pair.clock)
    with pytest.raises(WrongPairing):
        second.finish(answer.token, pair.physician, pair.physician_id, clock=pair.clock)
    late = make_pair("late")
    offer = offer_upgrade(late.physician, late.physician_id, clock=late.clock,
                          lifetime=timedelta(hours=1))
    late.clock.set(late.clock.now() + timedelta(hours=2))
    with pytest.raises(OfferExpired):
        answer_upgrade(offer.token, late.patient, late.patient_id, clock=late.clock)


def test_wrong_role_and_wrong_pairing_are_refused() -> None:
    pair, other = make_pair("roles"), make_pair("other")
    with pytest.raises(WrongPairing):
        offer_upgrade(pair.patient, pair.patient_id, clock=pair.clock)
    offer = offer_upgrade(other.physician, other.physician_id, clock=other.clock)
    with pytest.raises(WrongPairing):
        answer_upgrade(offer.token, pair.patient, pair.patient_id, clock=pair.clock)


def test_physician_state_round_trip_and_pinned_record() -> None:
    pair = make_pair("state")
    offer = offer_upgrade(pair.physician, pair.physician_id, clock=pair.clock)
    loaded = PhysicianUpgrade.load(offer.export())
    answer = answer_upgrade(offer.token, pair.patient, pair.patient_id, clock=pair.clock)
    done = loaded.finish(answer.token, pair.physician, pair.physician_id, clock=pair.clock)
    assert done.record is not None
    record = pinned.verify_record(done.record.raw, pair.physician_id.public)
    assert record.transcript_hash == done.secrets.transcript_hash
    assert record.patient_identity == pair.patient_id.public
    damaged = dict(offer.export(), ephemeral_private=prim.b64e(bytes(32)))
    with pytest.raises(StorageError):
        PhysicianUpgrade.load(damaged)


def test_text_form_is_v3() -> None:
    pair = make_pair("text")
    offer = offer_upgrade(pair.physician, pair.physician_id, clock=pair.clock)
    assert offer.token.startswith("[MEDCRYPT:v3:")
    raw = decode_payload(offer.token[len("[MEDCRYPT:v3:"):-1])
    assert parse_upgrade(raw).pairing_id == pair.physician.pairing_id
