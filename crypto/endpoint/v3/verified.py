"""The patient's "verified" state, bound to the peer's key fingerprint (PROTOCOL §33).

Verified means: this companion checked a KEY_CONFIRM signed by exactly this identity key
after the codes matched in person.  It is bound to the key's fingerprint, not to a chat
contact, so a later key change cannot inherit it: :func:`require_verified` fails loudly
and says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.errors import PairingNotVerified, PeerKeyChanged

LABEL_FINGERPRINT = b"MEDCRYPT v3 fingerprint"


def fingerprint_v3(identity_public: bytes) -> str:
    """Hex ``SHA-256("MEDCRYPT v3 fingerprint" || identity key)``."""
    return prim.sha256(LABEL_FINGERPRINT + identity_public).hex()


@dataclass(frozen=True, slots=True)
class VerifiedPeer:
    pairing_id: bytes
    fingerprint: str
    verified_at: int

    def export(self) -> dict[str, object]:
        return {"pairing_id": prim.b64e(self.pairing_id), "fingerprint": self.fingerprint,
                "verified_at": self.verified_at}


def mark_verified(pairing_id: bytes, peer_identity: bytes, *, at: int) -> VerifiedPeer:
    """Record a verified KEY_CONFIRM (``at``: Unix seconds from the injected clock)."""
    return VerifiedPeer(pairing_id, fingerprint_v3(peer_identity), at)


def require_verified(verified: VerifiedPeer | None, pairing_id: bytes,
                     peer_identity: bytes) -> None:
    """Refuse to use a session whose peer is not the verified key."""
    if verified is None or not prim.constant_time_equal(verified.pairing_id, pairing_id):
        raise PairingNotVerified(
            "this pairing is not verified yet: wait for the physician's confirmation")
    current = fingerprint_v3(peer_identity)
    if not prim.constant_time_equal(current.encode(), verified.fingerprint.encode()):
        raise PeerKeyChanged(
            f"the other side's key changed (verified {verified.fingerprint[:16]}, now "
            f"{current[:16]}): do not trust it until you verify the new key in person")
