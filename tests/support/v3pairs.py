"""Two v3 sessions as pairing would leave them, without the v3 pairing code.

The v3 pairing (issue 13, PAIRING) produces :class:`PairingSecrets`; until it lands this
builds the same hand-over from fresh keys: a shared root ``RK0``, the patient's ratchet
key ``E_p`` and the physician's ``E_d``, both identities and an escrow key pair.  What
the session does with them is the code under test; only the pairing is skipped.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass

import nacl.bindings

from medcrypt.crypto.endpoint.v3.deposit import PinnedKeys
from medcrypt.crypto.endpoint.v3.session import Session
from medcrypt.crypto.endpoint.v3.types import PairingSecrets, Role

Rng = Callable[[int], bytes]


class CounterRng:
    """SHA-256 counter-mode bytes over a label (reproducible draws for tests and vectors)."""

    def __init__(self, label: str) -> None:
        self.label = label.encode()
        self.counter = 0
        self.draws: list[str] = []

    def __call__(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(self.label + self.counter.to_bytes(8, "big")).digest()
            self.counter += 1
        self.draws.append(out[:n].hex())
        return out[:n]

    def take(self) -> list[str]:
        draws, self.draws = self.draws, []
        return draws


@dataclass
class V3Pair:
    patient: Session
    physician: Session
    patient_seed: bytes
    physician_seed: bytes
    escrow_private: bytes
    pinned: PinnedKeys
    start_epoch: int


def _x25519_pair(rng: Rng) -> tuple[bytes, bytes]:
    private = rng(32)
    return private, nacl.bindings.crypto_scalarmult_base(private)


def make_v3_pair(
    start_epoch: int, *, rng: Rng = os.urandom, grace_days: int = 7, escrow: bool = True,
) -> V3Pair:
    """A patient and a physician session right after a (simulated) key-confirmed pairing.

    Draw order: patient identity seed, physician identity seed, escrow private key,
    pairing id, transcript hash, RK0, E_p private, E_d private.
    """
    patient_seed, physician_seed = rng(32), rng(32)
    escrow_private, escrow_public = _x25519_pair(rng)
    pairing_id, transcript, root = rng(16), rng(32), rng(32)
    ep_private, ep_public = _x25519_pair(rng)
    ed_private, ed_public = _x25519_pair(rng)
    patient_identity = nacl.bindings.crypto_sign_seed_keypair(patient_seed)[0]
    physician_identity = nacl.bindings.crypto_sign_seed_keypair(physician_seed)[0]
    escrow_key = escrow_public if escrow else None

    def secrets(role: Role) -> PairingSecrets:
        patient = role is Role.PATIENT
        return PairingSecrets(
            role=role, pairing_id=pairing_id, start_epoch=start_epoch, grace_days=grace_days,
            transcript_hash=transcript, root_key=bytearray(root),
            own_identity_private=bytearray(patient_seed if patient else physician_seed),
            peer_identity_public=physician_identity if patient else patient_identity,
            escrow_public=escrow_key, patient_ratchet_public=ep_public,
            patient_ratchet_private=bytearray(ep_private) if patient else None,
            physician_ratchet_private=None if patient else bytearray(ed_private),
            physician_ratchet_public=ed_public)

    pinned = PinnedKeys(pairing_id, transcript, patient_identity, physician_identity,
                        escrow_public)
    return V3Pair(Session.from_pairing(secrets(Role.PATIENT)),
                  Session.from_pairing(secrets(Role.PHYSICIAN)), patient_seed, physician_seed,
                  escrow_private, pinned, start_epoch)


def copy_session(session: Session, identity_seed: bytes) -> Session:
    """A thief's full copy: the exported state and the identity key, as on the disk."""
    return Session.import_state(session.export_state(), identity_seed)
