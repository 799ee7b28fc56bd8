"""The v3 pairing vectors (``v3_pairing.json``), built for tests/vectors/generate.py.

One pairing in the order a real one runs: the physician's offer and registration, the
patient's accept, the verification code, the physician's KEY_CONFIRM, the secrets each
side hands to the ratchet, the pinned-key record; then a second patient answering the
same QR (what a photo of it gives), whose code differs and which aborts the pairing.
Every random byte is recorded (``rng_draws``, draw order): identity seeds and escrow key,
then pairing id (16), offer secret (32), ``E_d`` private (32); per accept ``E_p``
private (32). Ed25519 is deterministic, so signatures need no draw.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.endpoint.session import IdentityKey
from medcrypt.crypto.endpoint.v3 import pinned
from medcrypt.crypto.endpoint.v3.pairing import accept_offer_v3
from medcrypt.crypto.endpoint.v3.physician import create_offer_v3
from medcrypt.crypto.endpoint.v3.types import PairingSecrets
from medcrypt.crypto.endpoint.v3.verified import fingerprint_v3
from medcrypt.crypto.errors import QrShared
from medcrypt.crypto.keyless import pairing_wire as pw
from medcrypt.crypto.keyless.wire import parse_token

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LABEL = "MEDCRYPT v3 pairing vectors"


def _secrets(s: PairingSecrets) -> dict[str, Any]:
    def h(value: bytes | bytearray | None) -> str | None:
        return None if value is None else bytes(value).hex()

    return {"role": s.role.value, "pairing_id": h(s.pairing_id), "start_epoch": s.start_epoch,
            "grace_days": s.grace_days, "transcript_hash": h(s.transcript_hash),
            "root_key": h(s.root_key), "own_identity_private": h(s.own_identity_private),
            "peer_identity_public": h(s.peer_identity_public),
            "escrow_public": h(s.escrow_public),
            "patient_ratchet_public": h(s.patient_ratchet_public),
            "patient_ratchet_private": h(s.patient_ratchet_private),
            "physician_ratchet_private": h(s.physician_ratchet_private),
            "physician_ratchet_public": h(s.physician_ratchet_public)}


def v3_pairing_vectors(make_rng: Callable[[str], Any]) -> dict[str, Any]:
    rng = make_rng(LABEL)
    clock = FixedClock(AT)
    out: dict[str, Any] = {
        "description": "v3 key-confirmed pairing: offer (QR format 2), PAIR_REGISTER v3, "
                       "PAIR_ACCEPT v3, verification code, KEY_CONFIRM, PairingSecrets, "
                       "pinned-key record, and a second accept that aborts",
        "now": AT.isoformat()}
    doctor, patient = IdentityKey(rng(32)), IdentityKey(rng(32))
    escrow_private = rng(32)
    escrow_public = prim.x25519_public(escrow_private)
    out["setup"] = {"rng_draws": rng.take(), "physician_identity_seed": doctor.export(),
                    "patient_identity_seed": patient.export(),
                    "escrow_private": escrow_private.hex(), "escrow_public": escrow_public.hex()}
    physician = create_offer_v3(doctor.public, clock=clock, rng=rng, escrow_public=escrow_public,
                                bot_contact="telegram:@clinic_bot")
    offer = physician.offer
    out["offer"] = {"rng_draws": rng.take(), "offer_bytes": offer.to_bytes().hex(),
                    "public_offer": offer.public_bytes().hex(), "qr_text": offer.to_qr_text(),
                    "admission_value": offer.admission_value().hex(),
                    "admission_hash": pw.admission_hash(offer.pairing_id,
                                                        offer.admission_value()).hex(),
                    "registration_token": offer.registration_token()}
    side = accept_offer_v3(offer.to_qr_text(), patient, clock=clock, rng=rng)
    accept_raw = parse_token(side.accept_token).raw
    out["accept"] = {"rng_draws": rng.take(), "accept_token": side.accept_token,
                     "transcript_hash": side.transcript.hex(),
                     "accept_hash": pw.accept_hash(accept_raw).hex(),
                     "verification_code": side.code}
    screen = physician.receive_accept(side.accept_token, clock=clock, account="whatsapp:+1555")
    assert screen.code == side.code
    done = physician.confirm(doctor, clock=clock)
    confirm = parse_token(done.token).pairing3
    assert isinstance(confirm, pw.KeyConfirm)
    patient_secrets = side.verify_confirmation(done.token)
    out["confirm"] = {"key_confirm_token": done.token, "confirm_mac": confirm.confirm_mac.hex()}
    out["secrets"] = {"physician": _secrets(done.secrets), "patient": _secrets(patient_secrets)}
    record = pinned.sign_record(doctor, pairing_id=offer.pairing_id,
                                transcript_hash=done.secrets.transcript_hash,
                                patient_identity=patient.public, escrow_public=escrow_public)
    out["pinned_record"] = {"record": record.raw.hex(),
                            "physician_fingerprint": fingerprint_v3(doctor.public),
                            "patient_fingerprint": fingerprint_v3(patient.public)}
    out["second_accept"] = _second_accept(make_rng, clock)
    return out


def _second_accept(make_rng: Callable[[str], Any], clock: FixedClock) -> dict[str, Any]:
    """The same offer answered twice (a photo of the QR): two codes, and an abort."""
    rng = make_rng(LABEL + " photo")
    doctor, patient, thief = IdentityKey(rng(32)), IdentityKey(rng(32)), IdentityKey(rng(32))
    physician = create_offer_v3(doctor.public, clock=clock, rng=rng)
    setup = rng.take()
    real = accept_offer_v3(physician.offer.to_qr_text(), patient, clock=clock, rng=rng)
    real_draws = rng.take()
    other = accept_offer_v3(physician.offer.to_qr_text(), thief, clock=clock, rng=rng)
    physician.receive_accept(real.accept_token, clock=clock)
    try:
        physician.receive_accept(other.accept_token, clock=clock)
    except QrShared as exc:
        outcome = str(exc)
    else:  # pragma: no cover - the abort is the point of this vector
        raise AssertionError("a second valid accept must abort")
    return {"setup_rng_draws": setup, "qr_text": physician.offer.to_qr_text(),
            "first": {"rng_draws": real_draws, "accept_token": real.accept_token,
                      "verification_code": real.code},
            "second": {"rng_draws": rng.take(), "accept_token": other.accept_token,
                       "verification_code": other.code},
            "physician_outcome": outcome}
