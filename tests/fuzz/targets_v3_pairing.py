"""Fuzz targets for the v3 pairing parsers (see tests/fuzz/run_all.py).

Each target may only raise :class:`crypto.errors.MedCryptError`. Seeds are the real
tokens, offer and record of one pairing, so mutations explore near the accepted language.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.endpoint.session import IdentityKey
from medcrypt.crypto.endpoint.v3 import pinned
from medcrypt.crypto.endpoint.v3.offer import parse_offer_text_v3
from medcrypt.crypto.endpoint.v3.pairing import PatientPairing, accept_offer_v3
from medcrypt.crypto.endpoint.v3.physician import PhysicianPairing, create_offer_v3
from medcrypt.crypto.keyless import pairing_wire, wire

_CLOCK = FixedClock(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
_DOCTOR = IdentityKey(bytes(range(32)))
_PATIENT = IdentityKey(bytes(range(32, 64)))


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _offer() -> PhysicianPairing:
    return create_offer_v3(_DOCTOR.public, clock=_CLOCK, escrow_public=bytes(range(1, 33)),
                           bot_contact="telegram:@clinic_bot",
                           rng=lambda n: bytes((7 * i + n) % 256 for i in range(n)))


def _patient(physician: PhysicianPairing) -> PatientPairing:
    return accept_offer_v3(physician.offer.to_qr_text(), _PATIENT, clock=_CLOCK,
                           rng=lambda n: bytes((11 * i + 3) % 256 for i in range(n)))


def _seeds() -> dict[str, list[bytes]]:
    physician = _offer()
    side = _patient(physician)
    patient_state = json.dumps(side.export()).encode()
    physician.receive_accept(side.accept_token, clock=_CLOCK)
    physician_state = json.dumps(physician.export()).encode()
    done = physician.confirm(_DOCTOR, clock=_CLOCK)
    record = pinned.sign_record(_DOCTOR, pairing_id=physician.offer.pairing_id,
                                transcript_hash=side.transcript,
                                patient_identity=_PATIENT.public,
                                escrow_public=physician.offer.escrow_public)
    raws = [wire.parse_token(t).raw for t in
            (physician.offer.registration_token(), side.accept_token, done.token)]
    return {"tokens": [t.encode() for t in (physician.offer.registration_token(),
                                            side.accept_token, done.token)],
            "raws": raws, "offer": [physician.offer.to_qr_text().encode(), b"medcrypt-pair:2:"],
            "record": [record.raw], "confirm": [done.token.encode()],
            "accept": [side.accept_token.encode()],
            "physician_state": [physician_state], "patient_state": [patient_state]}


def _state(data: bytes) -> dict[str, object] | None:
    """A JSON object from the keystore (a file that is not JSON is the keystore's error)."""
    try:
        value = json.loads(_text(data))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def fuzz_load_physician_state(data: bytes) -> None:
    state = _state(data)
    if state is not None:
        PhysicianPairing.load(state)


def fuzz_load_patient_state(data: bytes) -> None:
    state = _state(data)
    if state is not None:
        PatientPairing.load(state, _PATIENT)


def fuzz_parse_v3_pairing(data: bytes) -> None:
    pairing_wire.parse_v3_pairing(data)


def fuzz_parse_token_v3(data: bytes) -> None:
    token = wire.parse_token(_text(data))
    assert wire.encode_token(token.raw) == _text(data).strip()


def fuzz_parse_offer_text_v3(data: bytes) -> None:
    parse_offer_text_v3(_text(data))


def fuzz_verify_pinned_record(data: bytes) -> None:
    pinned.verify_record(data, _DOCTOR.public)


def fuzz_physician_receive_accept(data: bytes) -> None:
    """A fresh physician side per input: a hostile relayed accept."""
    _offer().receive_accept(_text(data), clock=_CLOCK)


def fuzz_patient_verify_confirmation(data: bytes) -> None:
    """A fresh patient side per input: a hostile relayed KEY_CONFIRM."""
    _patient(_offer()).verify_confirmation(_text(data))


_SEEDS = _seeds()

TARGETS: dict[str, tuple[Callable[[bytes], object], Iterable[bytes]]] = {
    "parse_v3_pairing": (fuzz_parse_v3_pairing, _SEEDS["raws"]),
    "parse_token_v3": (fuzz_parse_token_v3, _SEEDS["tokens"]),
    "parse_offer_text_v3": (fuzz_parse_offer_text_v3, _SEEDS["offer"]),
    "verify_pinned_record": (fuzz_verify_pinned_record, _SEEDS["record"]),
    "physician_receive_accept": (fuzz_physician_receive_accept, _SEEDS["accept"]),
    "patient_verify_confirmation": (fuzz_patient_verify_confirmation, _SEEDS["confirm"]),
    "load_physician_state": (fuzz_load_physician_state, _SEEDS["physician_state"]),
    "load_patient_state": (fuzz_load_patient_state, _SEEDS["patient_state"]),
}
