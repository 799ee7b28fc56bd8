"""The v3 pairing offer: QR format version 2 (docs/PROTOCOL.md §30).

The layout is v2's offer (§4) with format byte ``0x02``; what changed is what follows
from it.  The offer secret now also yields the *admission value*
``A = HKDF(offer secret, salt = pairing id, info = "MEDCRYPT v3 admission value")``:
the patient's accept carries ``A`` and the registration carries only its hash, so the bot
can drop an accept from someone who never saw the QR while learning nothing that helps
derive the root (``A`` is one-way from the secret, and the root also needs X25519).
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from datetime import datetime

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint.pairing import offer_fields, offer_text_bytes
from medcrypt.crypto.keyless.pairing_wire import (
    METHOD_QR_OFFER,
    admission_hash,
    encode_register_v3,
)
from medcrypt.crypto.keyless.wire import encode_token

QR_SCHEME = "medcrypt-pair:"
QR_VERSION = 2
MAX_CONTACT_BYTES = 64
MAX_OFFER_TEXT = 1000
LABEL_ADMISSION = b"MEDCRYPT v3 admission value"
_FIXED = struct.Struct(">BB16s32s32s32sIHQ")
_PUBLIC_FIXED = struct.Struct(">BB16s32s32sIHQ")
_CHECKSUM_LEN = 4


@dataclass(frozen=True, slots=True)
class OfferV3:
    """Everything the v3 QR code carries (``offer_secret`` is the only secret)."""

    pairing_id: bytes
    offer_secret: bytes
    ephemeral_public: bytes
    identity_public: bytes
    start_epoch: int
    grace_days: int
    expires_at: int
    escrow_public: bytes | None
    bot_contact: str

    def _tail(self) -> bytes:
        contact = self.bot_contact.encode("utf-8")
        escrow = self.escrow_public or b""
        return bytes([len(escrow)]) + escrow + bytes([len(contact)]) + contact

    def public_bytes(self) -> bytes:
        """The offer without its secret and checksum: what the transcript covers."""
        return _PUBLIC_FIXED.pack(QR_VERSION, METHOD_QR_OFFER, self.pairing_id,
                                  self.ephemeral_public, self.identity_public,
                                  self.start_epoch, self.grace_days, self.expires_at) + self._tail()

    def to_bytes(self) -> bytes:
        body = _FIXED.pack(QR_VERSION, METHOD_QR_OFFER, self.pairing_id, self.offer_secret,
                           self.ephemeral_public, self.identity_public, self.start_epoch,
                           self.grace_days, self.expires_at) + self._tail()
        return body + prim.sha256(body)[:_CHECKSUM_LEN]

    def to_qr_text(self) -> str:
        """``medcrypt-pair:2:<base64url without padding>``."""
        payload = base64.urlsafe_b64encode(self.to_bytes()).decode("ascii").rstrip("=")
        return f"{QR_SCHEME}{QR_VERSION}:{payload}"

    def admission_value(self) -> bytes:
        return admission_value(self.offer_secret, self.pairing_id)

    def registration_token(self) -> str:
        """PAIR_REGISTER v3 text: pairing id, policy, ``H_A``; nothing secret."""
        return encode_token(encode_register_v3(
            self.pairing_id, self.start_epoch, self.grace_days, self.expires_at,
            admission_hash(self.pairing_id, self.admission_value())))

    def expired(self, now: datetime) -> bool:
        return now.timestamp() >= self.expires_at


def admission_value(offer_secret: bytes | bytearray, pairing_id: bytes) -> bytes:
    """``A``: proves the sender saw the QR, reveals nothing about the offer secret."""
    return prim.hkdf_sha256(offer_secret, salt=pairing_id, info=LABEL_ADMISSION)


def parse_offer_text_v3(text: str) -> OfferV3:
    """Strictly parse ``medcrypt-pair:2:...`` text; MalformedToken on anything else."""
    return parse_offer_bytes_v3(offer_text_bytes(text, QR_VERSION, "MedCrypt v3 pairing offer",
                                                 MAX_OFFER_TEXT))


def parse_offer_bytes_v3(raw: bytes) -> OfferV3:
    """The binary offer (with checksum) into an :class:`OfferV3` (v2's layout and
    checks, QR format 2)."""
    return OfferV3(*offer_fields(raw, QR_VERSION))
