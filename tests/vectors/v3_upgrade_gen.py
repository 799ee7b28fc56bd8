"""The v2 -> v3 upgrade vectors (``v3_upgrade.json``), built for tests/vectors/generate.py.

One upgrade in the order a real one runs (docs/PROTOCOL.md §35): a v2 pairing (its
draws recorded, its bytes are the v2 vectors' business), the physician's UPGRADE_OFFER,
the patient's UPGRADE_ANSWER, the transcript, the root, the ``PairingSecrets`` each side
hands to the ratchet, the pinned-key record of the v3 pairing, and the first v3 message
of each side. Every random byte is recorded (``rng_draws``, draw order): setup (identity
seeds, escrow key, the v2 pairing's draws), then ``E_d`` private (32) for the offer and
``E_p`` private (32) for the answer. Ed25519 is deterministic: signatures need no draw.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.endpoint.session import (
    IdentityKey,
    accept_pairing,
    complete_pairing,
    start_pairing,
)
from medcrypt.crypto.endpoint.v3.session import Session
from medcrypt.crypto.endpoint.v3.upgrade import answer_upgrade, offer_upgrade
from medcrypt.crypto.keyless.wire import parse_token
from tests.vectors.v3_pairing_gen import _secrets

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LABEL = "MEDCRYPT v3 upgrade vectors"


def v3_upgrade_vectors(make_rng: Callable[[str], Any]) -> dict[str, Any]:
    rng = make_rng(LABEL)
    clock = FixedClock(AT)
    out: dict[str, Any] = {
        "description": "v2 -> v3 upgrade: UPGRADE_OFFER, UPGRADE_ANSWER (kind 7), transcript, "
                       "root, PairingSecrets, pinned-key record, first v3 message each way",
        "now": AT.isoformat()}
    doctor, patient = IdentityKey(rng(32)), IdentityKey(rng(32))
    escrow_private = rng(32)
    escrow_public = prim.x25519_public(escrow_private)
    pending = start_pairing(doctor, clock=clock, rng=rng, escrow_public=escrow_public,
                            bot_contact="telegram:@clinic_bot")
    patient_v2, accept = accept_pairing(pending.offer.to_qr_text(), patient, clock=clock,
                                        rng=rng)
    doctor_v2 = complete_pairing(pending, accept, doctor, clock=clock, rng=rng)
    out["setup"] = {"rng_draws": rng.take(), "physician_identity_seed": doctor.export(),
                    "patient_identity_seed": patient.export(),
                    "escrow_private": escrow_private.hex(), "escrow_public": escrow_public.hex(),
                    "pairing_id": doctor_v2.pairing_id.hex(), "grace_days": doctor_v2.grace_days}
    offer = offer_upgrade(doctor_v2, doctor, clock=clock, rng=rng)
    out["offer"] = {"rng_draws": rng.take(), "offer_token": offer.token,
                    "offer_bytes": offer.offer.raw.hex(),
                    "offer_hash": offer.offer.offer_hash.hex()}
    answer = answer_upgrade(offer.token, patient_v2, patient, clock=clock, rng=rng)
    out["answer"] = {"rng_draws": rng.take(), "answer_token": answer.token,
                     "answer_bytes": parse_token(answer.token).raw.hex(),
                     "transcript_hash": answer.upgraded.secrets.transcript_hash.hex()}
    done = offer.finish(answer.token, doctor_v2, doctor, clock=clock)
    assert done.record is not None
    out["secrets"] = {"physician": _secrets(done.secrets),
                      "patient": _secrets(answer.upgraded.secrets)}
    out["pinned_record"] = done.record.raw.hex()
    physician, patient_side = Session.from_pairing(done.secrets), Session.from_pairing(
        answer.upgraded.secrets)
    first = patient_side.encrypt(b"first v3 message after the upgrade", now=AT, rng=rng)
    out["first_patient_message"] = {"rng_draws": rng.take(), "token": first}
    physician.decrypt(first, now=AT)
    reply = physician.encrypt(b"first v3 reply", now=AT, rng=rng)
    out["first_physician_message"] = {"rng_draws": rng.take(), "token": reply}
    return out
