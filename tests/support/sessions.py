"""Shared set-up for the crypto tests: a paired patient and physician on a fixed clock."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import nacl.public

from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.endpoint.session import (
    IdentityKey,
    PairingSession,
    accept_pairing,
    complete_pairing,
    start_pairing,
)

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


class DetRng:
    """Deterministic RNG: SHA-256 in counter mode over a label (vectors, reproducible tests)."""

    def __init__(self, label: str) -> None:
        self.label = label.encode()
        self.counter = 0

    def __call__(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(self.label + self.counter.to_bytes(8, "big")).digest()
            self.counter += 1
        return out[:n]


@dataclass
class Pair:
    patient: PairingSession
    physician: PairingSession
    patient_id: IdentityKey
    physician_id: IdentityKey
    clock: FixedClock
    escrow: nacl.public.PrivateKey
    accept_token: str


def make_pair(label: str = "pair", *, at: datetime = T0, escrow: bool = True,
              grace_days: int = 7) -> Pair:
    rng = DetRng(label)
    clock = FixedClock(at)
    escrow_key = nacl.public.PrivateKey(rng(32))
    physician_id, patient_id = IdentityKey.generate(rng), IdentityKey.generate(rng)
    pending = start_pairing(physician_id, clock=clock, rng=rng, grace_days=grace_days,
                            escrow_public=bytes(escrow_key.public_key) if escrow else None,
                            bot_contact="telegram:@clinic_bot")
    patient, accept = accept_pairing(pending.offer.to_qr_text(), patient_id, clock=clock, rng=rng)
    physician = complete_pairing(pending, accept, physician_id, clock=clock, rng=rng)
    return Pair(patient, physician, patient_id, physician_id, clock, escrow_key, accept)
