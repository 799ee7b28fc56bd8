"""The interface between pairing and the ratchet (issue 13, fixed decision 3).

Pairing produces :class:`PairingSecrets`; the ratchet session is built from it.  The
pairing counts as the patient's first DH ratchet step: both sides compute
``KDF_RK(RK0, X25519(E_p, E_d))`` at pairing end, the patient's first sending chain has
chain id ``E_p``, and the physician wipes ``E_d``'s private key after that step.
"""

from __future__ import annotations

from dataclasses import dataclass

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint.pairing import Role


@dataclass(slots=True)
class PairingSecrets:
    """What a finished v3 pairing hands to the ratchet (private values are bytearrays so
    the receiver can wipe them)."""

    role: Role
    pairing_id: bytes
    start_epoch: int
    grace_days: int
    transcript_hash: bytes
    #: RK0, the root key before the first root step.
    root_key: bytearray
    own_identity_private: bytearray
    peer_identity_public: bytes
    escrow_public: bytes | None
    #: E_p, the patient's PAIR_ACCEPT ephemeral key (chain id of its first sending chain).
    patient_ratchet_public: bytes
    patient_ratchet_private: bytearray | None
    physician_ratchet_private: bytearray | None
    #: E_d, the offer's ephemeral key.
    physician_ratchet_public: bytes

    def wipe(self) -> None:
        """Zero every private value (the ratchet calls this once it holds its state)."""
        for buffer in (self.root_key, self.own_identity_private,
                       self.patient_ratchet_private, self.physician_ratchet_private):
            prim.wipe(buffer)
