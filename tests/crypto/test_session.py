"""Two sessions talking: confidentiality, integrity, ordering, forward secrecy, calendar."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medcrypt.crypto.endpoint.envelope import ContentType
from medcrypt.crypto.endpoint.ratchet import MAX_SKIP
from medcrypt.crypto.endpoint.session import IdentityKey, PairingSession
from medcrypt.crypto.errors import (
    DecryptionFailed,
    EpochNotYet,
    EpochShredded,
    LimitExceeded,
    MalformedToken,
    MedCryptError,
    ReplayDetected,
    StorageError,
    WrongPairing,
)
from medcrypt.crypto.keyless import wire
from tests.support.sessions import T0, make_pair


def test_exchange_both_ways() -> None:
    p = make_pair()
    for i in range(3):
        r = p.patient.encrypt(f"symptom {i}".encode(), clock=p.clock)
        opened = p.physician.decrypt(r.token, clock=p.clock)
        assert opened.body == f"symptom {i}".encode() and opened.index == i
        assert opened.direction is wire.Direction.PATIENT_TO_PHYSICIAN
        assert opened.sent_at == T0 and opened.epoch == 682
        assert opened.content_type is ContentType.TEXT
        back = p.physician.encrypt(b"{\"read\": 3}", ContentType.CONTROL, clock=p.clock)
        reply = p.patient.decrypt(back.token, clock=p.clock)
        assert reply.body == b"{\"read\": 3}" and reply.content_type is ContentType.CONTROL
    assert p.patient.safety_number() == p.physician.safety_number()
    assert p.patient.peer_identity_fingerprint == p.physician_id.fingerprint()
    assert p.physician.peer_identity_fingerprint == p.patient_id.fingerprint()


def test_header_reveals_routing_only() -> None:
    p = make_pair()
    token = p.patient.encrypt(b"chest pain since Tuesday", clock=p.clock).token
    header = wire.parse_token(token).header
    assert header.pairing_id == p.patient.pairing_id and header.epoch == 682
    assert b"chest" not in wire.parse_token(token).raw


def test_every_single_byte_alteration_rejected() -> None:
    p = make_pair()
    token = p.patient.encrypt(b"confidential", clock=p.clock).token
    raw = wire.parse_token(token).raw
    rng = random.Random(3)
    for i in range(len(raw)):
        bad = bytearray(raw)
        bad[i] ^= 1 << rng.randrange(8)
        with pytest.raises(MedCryptError):
            p.physician.decrypt(wire.encode_token(bytes(bad)), clock=p.clock)
    # Nothing was consumed by the forgeries: the genuine token still opens.
    assert p.physician.decrypt(token, clock=p.clock).body == b"confidential"


def test_alterations_of_payload_are_opaque() -> None:
    p = make_pair()
    raw = wire.parse_token(p.patient.encrypt(b"x", clock=p.clock).token).raw
    for i in (27, 40, 50, 51, 100, len(raw) - 1):  # nonce, ciphertext, tag
        bad = bytearray(raw)
        bad[i] ^= 0x40
        with pytest.raises(DecryptionFailed):
            p.physician.decrypt(wire.encode_token(bytes(bad)), clock=p.clock)


def test_reflection_replay_and_cross_pairing_rejected() -> None:
    p, q = make_pair("a"), make_pair("b")
    token = p.patient.encrypt(b"hello", clock=p.clock).token
    with pytest.raises(WrongPairing):
        p.patient.decrypt(token, clock=p.clock)  # reflected to its sender
    raw = bytearray(wire.parse_token(token).raw)
    raw[22] ^= 1  # claim the other direction
    with pytest.raises(DecryptionFailed):
        p.patient.decrypt(wire.encode_token(bytes(raw)), clock=p.clock)
    with pytest.raises(WrongPairing):
        q.physician.decrypt(token, clock=p.clock)
    moved = bytearray(wire.parse_token(token).raw)
    moved[2:18] = q.physician.pairing_id  # transplant into the other pairing
    with pytest.raises(DecryptionFailed):
        q.physician.decrypt(wire.encode_token(bytes(moved)), clock=p.clock)
    assert p.physician.decrypt(token, clock=p.clock).body == b"hello"
    with pytest.raises(ReplayDetected):
        p.physician.decrypt(token, clock=p.clock)


def test_other_kinds_refused() -> None:
    p = make_pair()
    with pytest.raises(MalformedToken):
        p.physician.decrypt(p.accept_token, clock=p.clock)


def test_out_of_order_within_bound() -> None:
    p = make_pair()
    tokens = [p.patient.encrypt(f"m{i}".encode(), clock=p.clock).token for i in range(30)]
    order = list(range(30))
    random.Random(5).shuffle(order)
    for i in order:
        assert p.physician.decrypt(tokens[i], clock=p.clock).body == f"m{i}".encode()
    for i in order[:5]:
        with pytest.raises(ReplayDetected):
            p.physician.decrypt(tokens[i], clock=p.clock)


def test_skip_bound() -> None:
    p = make_pair()
    tokens = [p.patient.encrypt(b"m", clock=p.clock).token for _ in range(MAX_SKIP + 2)]
    with pytest.raises(LimitExceeded):
        p.physician.decrypt(tokens[MAX_SKIP + 1], clock=p.clock)
    assert p.physician.decrypt(tokens[MAX_SKIP], clock=p.clock).index == MAX_SKIP
    assert p.physician.decrypt(tokens[0], clock=p.clock).index == 0


def test_forward_secrecy_inside_the_month() -> None:
    p = make_pair()
    early = p.patient.encrypt(b"first", clock=p.clock).token
    late = p.patient.encrypt(b"second", clock=p.clock).token
    p.physician.decrypt(late, clock=p.clock)  # early becomes a skipped key
    p.physician.decrypt(early, clock=p.clock)
    stolen = json.loads(json.dumps(p.physician.export_state()))
    thief = PairingSession.from_state(stolen, p.physician_id)
    for token in (early, late):
        with pytest.raises(ReplayDetected):
            thief.decrypt(token, clock=p.clock)
    # The stolen state holds no skipped key and its chain is past both indices.
    assert stolen["epochs"]["682"]["recv"]["skipped"] == {}
    assert stolen["epochs"]["682"]["recv"]["next"] == 2


def test_state_round_trip_keeps_working() -> None:
    p = make_pair()
    a = p.patient.encrypt(b"one", clock=p.clock).token
    b = p.patient.encrypt(b"two", clock=p.clock).token
    p.physician.decrypt(b, clock=p.clock)
    restored = PairingSession.from_state(
        json.loads(json.dumps(p.physician.export_state())), p.physician_id)
    assert restored.decrypt(a, clock=p.clock).body == b"one"
    again = PairingSession.from_state(p.patient.export_state(), p.patient_id)
    assert restored.decrypt(again.encrypt(b"three", clock=p.clock).token,
                            clock=p.clock).index == 2
    with pytest.raises(StorageError):
        PairingSession.from_state(p.physician.export_state(), p.patient_id)
    broken = p.physician.export_state()
    broken["schedule"]["next_key"] = "!!"
    with pytest.raises(StorageError):
        PairingSession.from_state(broken, p.physician_id)
    with pytest.raises(StorageError):
        PairingSession.from_state({"format": "x"}, p.physician_id)


def test_foreign_signer_rejected() -> None:
    p = make_pair()
    # A third key holder who knows the chain keys (simulated by a patient session whose
    # identity was swapped after pairing) cannot pass as the pinned patient.
    state = p.patient.export_state()
    impostor_id = IdentityKey(b"\x42" * 32)
    state["own_identity"] = wire.base64.b64encode(impostor_id.public).decode()
    impostor = PairingSession.from_state(state, impostor_id)
    token = impostor.encrypt(b"stop all medication", clock=p.clock).token
    with pytest.raises(DecryptionFailed):
        p.physician.decrypt(token, clock=p.clock)
    # Not consumed: the genuine message with that index still opens.
    assert p.physician.decrypt(p.patient.encrypt(b"ok", clock=p.clock).token,
                               clock=p.clock).body == b"ok"


def test_three_months_offline_catch_up() -> None:
    p = make_pair()
    old = p.patient.encrypt(b"november", clock=p.clock).token
    p.clock.set(datetime(2027, 2, 3, 9, tzinfo=UTC))  # physician offline since November
    token = p.patient.encrypt(b"february", clock=p.clock).token
    assert wire.parse_token(token).header.epoch == 685
    shredded = p.physician.advance(p.clock)
    assert shredded == [682, 683]  # 684 (January) is still in its grace window
    assert p.physician.decrypt(token, clock=p.clock).body == b"february"
    with pytest.raises(EpochShredded, match="2026-11"):
        p.physician.decrypt(old, clock=p.clock)
    assert p.physician.live_epochs == [684, 685]


def test_grace_window_then_shredded() -> None:
    p = make_pair()
    token = p.patient.encrypt(b"late november", clock=p.clock).token
    p.clock.set(datetime(2026, 12, 7, 23, 59, tzinfo=UTC))
    assert p.physician.decrypt(token, clock=p.clock).body == b"late november"
    token2 = p.patient.encrypt(b"december", clock=p.clock).token
    again = p.patient.export_state()
    p.clock.set(datetime(2026, 12, 8, tzinfo=UTC))
    assert p.physician.advance(p.clock) == [682]
    late_nov = PairingSession.from_state(again, p.patient_id)
    assert late_nov.advance(p.clock) == [682]
    with pytest.raises(EpochShredded) as err:
        p.physician.decrypt(token, clock=p.clock)
    assert "2026-11 was shredded at 2026-12-08" in str(err.value)
    assert p.physician.decrypt(token2, clock=p.clock).body == b"december"
    state = json.dumps(p.physician.export_state())
    assert "\"682\"" in state and "\"682\": {" not in state  # only the shred record


def test_future_epoch_refused() -> None:
    p = make_pair()
    future = make_pair()
    future.clock.set(datetime(2027, 1, 2, tzinfo=UTC))
    token = future.patient.encrypt(b"from the future", clock=future.clock).token
    with pytest.raises(EpochNotYet):
        p.physician.decrypt(token, clock=p.clock)


def test_escrow_deposit_once_per_epoch_per_side() -> None:
    p = make_pair()
    first = p.patient.encrypt(b"a", clock=p.clock)
    second = p.patient.encrypt(b"b", clock=p.clock)
    assert first.escrow_deposit is not None and second.escrow_deposit is None
    assert p.physician.encrypt(b"c", clock=p.clock).escrow_deposit is not None
    p.clock.set(T0 + timedelta(days=10))
    assert p.patient.encrypt(b"december", clock=p.clock).escrow_deposit is not None
    none = make_pair("noescrow", escrow=False)
    assert none.patient.encrypt(b"a", clock=none.clock).escrow_deposit is None


def test_body_limit() -> None:
    p = make_pair()
    with pytest.raises(LimitExceeded):
        p.patient.encrypt(b"x" * (1024 * 1024 + 1), clock=p.clock)


def test_padding_hides_length() -> None:
    p = make_pair()
    sizes = {len(p.patient.encrypt(b"x" * n, clock=p.clock).token) for n in (0, 1, 100, 170)}
    assert len(sizes) == 1


_PAIR = make_pair("hypothesis")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=3000) | st.binary(max_size=70000).map(lambda b: b.hex()[:len(b)]),
       st.booleans())
def test_round_trip_any_text(text: str, patient_sends: bool) -> None:
    sender, receiver = ((_PAIR.patient, _PAIR.physician) if patient_sends
                        else (_PAIR.physician, _PAIR.patient))
    body = text.encode("utf-8")
    token = sender.encrypt(body, clock=_PAIR.clock).token
    assert receiver.decrypt(token, clock=_PAIR.clock).body == body


def test_small_clock_skew_at_month_boundary() -> None:
    boundary = datetime(2026, 12, 1, tzinfo=UTC)
    p = make_pair()
    ahead = PairingSession.from_state(p.patient.export_state(), p.patient_id)
    ahead_clock = type(p.clock)(boundary + timedelta(minutes=1))
    early = ahead.encrypt(b"happy new month", clock=ahead_clock).token
    assert wire.parse_token(early).header.epoch == 683
    p.clock.set(boundary - timedelta(minutes=3))  # physician's clock is 4 minutes behind
    assert p.physician.decrypt(early, clock=p.clock).body == b"happy new month"
    q = make_pair("skew")
    later = PairingSession.from_state(q.patient.export_state(), q.patient_id)
    token = later.encrypt(b"too early", clock=type(q.clock)(boundary)).token
    q.clock.set(boundary - timedelta(minutes=6))
    with pytest.raises(EpochNotYet):
        q.physician.decrypt(token, clock=q.clock)


def test_error_messages_carry_no_token_or_plaintext() -> None:
    p = make_pair()
    token = p.patient.encrypt(b"diagnosis: melanoma", clock=p.clock).token
    raw = wire.parse_token(token).raw
    messages = []
    for i in range(0, len(raw), 7):
        bad = bytearray(raw)
        bad[i] ^= 0x10
        try:
            p.physician.decrypt(wire.encode_token(bytes(bad)), clock=p.clock)
        except MedCryptError as exc:
            messages.append(str(exc))
    p.physician.decrypt(token, clock=p.clock)
    try:
        p.physician.decrypt(token, clock=p.clock)
    except ReplayDetected as exc:
        messages.append(str(exc))
    payload = token[13:-1]
    for message in messages:
        assert "melanoma" not in message and payload[:20] not in message
        assert "MEDCRYPT:v2" not in message and len(message) < 200
