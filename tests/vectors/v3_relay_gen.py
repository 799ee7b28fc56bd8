"""The PIN_RECORD vectors (``v3_pin_record.json``), built for tests/vectors/generate.py.

A pinned-key record (PROTOCOL §34.1) signed by a fixed physician identity, sealed to an
escrow key into a PIN_RECORD token (§34.3), plus the bundle item of a stored segment
deposit (§34.5). Every random byte is recorded (``rng_draws``, draw order): escrow
private key (32), pairing id (16), transcript hash (32), patient identity seed (32), then
the sealed box's ephemeral private key (32). Ed25519 is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint.session import IdentityKey
from medcrypt.crypto.endpoint.v3 import pinned
from medcrypt.crypto.keyless import record_wire
from medcrypt.crypto.keyless.wire import encode_token

LABEL = "MEDCRYPT v3 pin record vectors"
#: How a stored v3 deposit is framed inside a break-glass bundle (§34.5).
DEPOSIT_ITEM = bytes((3, 4))


def v3_pin_record_vectors(rng_class: Callable[[str], Any]) -> dict[str, Any]:
    rng = rng_class(LABEL)
    physician = IdentityKey(bytes(range(32)))
    escrow_private = rng(32)
    escrow_public = prim.x25519_public(escrow_private)
    pairing_id, transcript = rng(16), rng(32)
    patient = IdentityKey(rng(32))
    record = pinned.sign_record(physician, pairing_id=pairing_id, transcript_hash=transcript,
                                patient_identity=patient.public, escrow_public=escrow_public)
    raw = record_wire.encode_record_token(pairing_id, record.raw, escrow_public, rng=rng)
    deposit = bytes(range(234))
    return {
        "rng_label": LABEL,
        "rng_draws": rng.take(),
        "physician_identity_seed": bytes(range(32)).hex(),
        "physician_identity_public": physician.public.hex(),
        "escrow_private": escrow_private.hex(),
        "escrow_public": escrow_public.hex(),
        "pairing_id": pairing_id.hex(),
        "transcript_hash": transcript.hex(),
        "patient_identity_public": patient.public.hex(),
        "record": record.raw.hex(),
        "pin_record_token": raw.hex(),
        "pin_record_text": encode_token(raw),
        "bundle_deposit_item": {"deposit": deposit.hex(),
                                "item": (DEPOSIT_ITEM + deposit).hex()},
    }
