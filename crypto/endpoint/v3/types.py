"""What pairing hands to the ratchet (issue 13, decision 3): the interface between the
v3 pairing code, which produces it, and :mod:`medcrypt.crypto.endpoint.v3.session`,
which consumes (and wipes) it.
"""

from __future__ import annotations

from dataclasses import dataclass

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint.pairing import Role
from medcrypt.crypto.errors import MalformedToken

__all__ = ["PairingSecrets", "Role"]


@dataclass(slots=True)
class PairingSecrets:
    """The outcome of a key-confirmed v3 pairing, seen from one side.

    The patient ratchet key is the patient's PAIR_ACCEPT ephemeral X25519 key ``E_p``,
    the physician ratchet key the offer's ephemeral ``E_d``.  Exactly one of the two
    ratchet private keys is present: the patient's on the patient side, the
    physician's on the physician side.  Mutable on purpose: the session wipes the
    secret buffers (``root_key``, the ratchet private key) once it has used them.
    """

    role: Role
    pairing_id: bytes
    start_epoch: int
    grace_days: int
    transcript_hash: bytes
    root_key: bytearray
    own_identity_private: bytearray
    peer_identity_public: bytes
    escrow_public: bytes | None
    patient_ratchet_public: bytes
    patient_ratchet_private: bytearray | None
    physician_ratchet_private: bytearray | None
    physician_ratchet_public: bytes

    def __post_init__(self) -> None:
        lengths = ((self.pairing_id, 16), (self.transcript_hash, 32), (self.root_key, 32),
                   (self.own_identity_private, 32), (self.peer_identity_public, 32),
                   (self.patient_ratchet_public, 32), (self.physician_ratchet_public, 32))
        if any(len(value) != size for value, size in lengths):
            raise MalformedToken("pairing secrets hold a field of the wrong length")
        if self.escrow_public is not None and len(self.escrow_public) != 32:
            raise MalformedToken("escrow public key must be 32 bytes")
        own_private = (self.patient_ratchet_private if self.role is Role.PATIENT
                       else self.physician_ratchet_private)
        other_private = (self.physician_ratchet_private if self.role is Role.PATIENT
                         else self.patient_ratchet_private)
        if own_private is None or len(own_private) != 32 or other_private is not None:
            raise MalformedToken("pairing secrets must hold this side's ratchet key only")

    def wipe(self) -> None:
        """Zero every private value (:meth:`Session.from_pairing` already wiped the root
        and the ratchet key; the identity seed is the caller's to drop once stored)."""
        for buffer in (self.root_key, self.own_identity_private,
                       self.patient_ratchet_private, self.physician_ratchet_private):
            prim.wipe(buffer)
