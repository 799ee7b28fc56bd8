"""First-visit pairing by QR code: offer, accept, complete (DESIGN 3.1).

The physician's companion makes an *offer* - pairing id, one-time offer secret,
ephemeral X25519 key, its Ed25519 identity, the rotation policy, the clinic escrow key,
how to reach the bot, and an expiry - and shows it as ``medcrypt-pair:1:<base64url>``
text in a QR code (a custom scheme, never an https URL a platform or phone scanner would
open).  The patient's companion makes its own ephemeral key and derives::

    T    = SHA-256("MEDCRYPT v2 pairing transcript" || public offer || patient eph || patient id)
    root = HKDF(ikm = X25519(eph_p, eph_o) || offer secret, salt = pairing id,
                info = "MEDCRYPT v2 root" || T)
    mac  = HMAC(HKDF(offer secret, pairing id, "MEDCRYPT v2 accept mac key"),
                "MEDCRYPT v2 accept" || T)

and sends the PAIR_ACCEPT token (its two public keys and ``mac``) through the bot.  A
photographed QR alone does not give ``root`` (no X25519 secret); a bot that swaps in its
own public key cannot forge ``mac`` (no offer secret).  The physician keeps the offer
pending, refuses it once used or expired, checks the MAC in constant time, and both
derive the first epoch key; every ephemeral secret is then wiped.

Other pairing methods (a spoken code + PAKE, as in magic-wormhole) plug in by producing
the same :class:`PairingOutcome`; the method byte in the wire bodies tells them apart.
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.clock import Clock
from medcrypt.crypto.endpoint.keyschedule import initial_epoch_key
from medcrypt.crypto.errors import (
    DecryptionFailed,
    MalformedToken,
    OfferExpired,
    OfferReused,
    StorageError,
    WrongPairing,
)
from medcrypt.crypto.keyless.epochs import DEFAULT_GRACE_DAYS, MAX_EPOCH, MAX_GRACE_DAYS, epoch_of
from medcrypt.crypto.keyless.wire import (
    METHOD_QR_OFFER,
    PAIRING_ID_LEN,
    Kind,
    encode_accept,
    encode_register,
    encode_token,
    parse_token,
)

QR_SCHEME = "medcrypt-pair:"
QR_VERSION = 1
OFFER_TTL = timedelta(minutes=10)
MAX_CONTACT_BYTES = 64
LABEL_TRANSCRIPT = b"MEDCRYPT v2 pairing transcript"
LABEL_ROOT = b"MEDCRYPT v2 root"
LABEL_MAC_KEY = b"MEDCRYPT v2 accept mac key"
LABEL_MAC = b"MEDCRYPT v2 accept"
_OFFER_FIXED = struct.Struct(">BB16s32s32s32sIHQ")
_CHECKSUM_LEN = 4


class Role(StrEnum):
    PATIENT = "patient"
    PHYSICIAN = "physician"


class PairingMethod(Protocol):
    """A way to agree on a pairing's first epoch key; each yields a PairingOutcome."""

    method_id: int
    name: str


@dataclass(frozen=True, slots=True)
class Offer:
    """Everything the QR code carries (``offer_secret`` is the only secret)."""

    pairing_id: bytes
    offer_secret: bytes
    ephemeral_public: bytes
    identity_public: bytes
    start_epoch: int
    grace_days: int
    expires_at: int
    escrow_public: bytes | None
    bot_contact: str

    def public_bytes(self) -> bytes:
        """The offer without its secret: what the transcript hash covers."""
        contact = self.bot_contact.encode("utf-8")
        escrow = self.escrow_public or b""
        return (struct.pack(">BB16s32s32sIHQ", QR_VERSION, METHOD_QR_OFFER, self.pairing_id,
                            self.ephemeral_public, self.identity_public, self.start_epoch,
                            self.grace_days, self.expires_at)
                + bytes([len(escrow)]) + escrow + bytes([len(contact)]) + contact)

    def to_bytes(self) -> bytes:
        contact = self.bot_contact.encode("utf-8")
        escrow = self.escrow_public or b""
        body = (_OFFER_FIXED.pack(QR_VERSION, METHOD_QR_OFFER, self.pairing_id, self.offer_secret,
                                  self.ephemeral_public, self.identity_public, self.start_epoch,
                                  self.grace_days, self.expires_at)
                + bytes([len(escrow)]) + escrow + bytes([len(contact)]) + contact)
        return body + prim.sha256(body)[:_CHECKSUM_LEN]

    def to_qr_text(self) -> str:
        """``medcrypt-pair:1:<base64url without padding>`` (docs/PROTOCOL.md grammar)."""
        payload = base64.urlsafe_b64encode(self.to_bytes()).decode("ascii").rstrip("=")
        return f"{QR_SCHEME}{QR_VERSION}:{payload}"

    def registration_token(self) -> str:
        """PAIR_REGISTER token for the bot: pairing id and policy, nothing secret."""
        return encode_token(encode_register(self.pairing_id, self.start_epoch,
                                            self.grace_days, self.expires_at))

    def expired(self, now: datetime) -> bool:
        return now.timestamp() >= self.expires_at


def parse_offer_text(text: str) -> Offer:
    """Strictly parse QR text into an :class:`Offer`; MalformedToken on anything else."""
    return _parse_offer_bytes(offer_text_bytes(text, QR_VERSION, "MedCrypt pairing offer"))


def offer_text_bytes(text: object, version: int, what: str, max_chars: int = 1000) -> bytes:
    """The binary offer inside ``medcrypt-pair:<version>:<b64url>`` (scheme compared
    case-insensitively, canonical unpadded base64url only: PROTOCOL §4, §30); the same
    strict reading for every QR format, so no version is laxer than another."""
    if not isinstance(text, str):
        raise MalformedToken("offer must be text")
    text = text.strip()
    prefix = f"{QR_SCHEME}{version}:"
    if not text.lower().startswith(prefix) or len(text) > max_chars:
        raise MalformedToken(f"not a {what} (expected {prefix}...)")
    payload = text[len(prefix):]
    if len(payload) % 4 == 1:
        raise MalformedToken("pairing offer text is damaged")
    try:
        raw = base64.b64decode(payload + "=" * (-len(payload) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise MalformedToken("pairing offer text is damaged") from None
    if base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") != payload:
        raise MalformedToken("pairing offer text is damaged")
    return raw


def _parse_offer_bytes(raw: bytes) -> Offer:
    return Offer(*offer_fields(raw, QR_VERSION))


OfferFields = tuple[bytes, bytes, bytes, bytes, int, int, int, bytes | None, str]


def offer_fields(raw: bytes, version: int) -> OfferFields:
    """The fields of a binary offer of QR ``version`` (with checksum), checked strictly:
    (pairing id, offer secret, ephemeral key, identity key, start epoch, grace days,
    expiry, escrow key or None, bot contact). QR formats 1 and 2 share this layout
    (PROTOCOL §4, §30), so both read it here."""
    if len(raw) < _OFFER_FIXED.size + 2 + _CHECKSUM_LEN:
        raise MalformedToken("pairing offer is truncated")
    body, checksum = raw[:-_CHECKSUM_LEN], raw[-_CHECKSUM_LEN:]
    if not prim.constant_time_equal(prim.sha256(body)[:_CHECKSUM_LEN], checksum):
        raise MalformedToken("pairing offer text is damaged (checksum)")
    (got_version, method, pairing_id, secret, eph, ident, start, grace, expires) = (
        _OFFER_FIXED.unpack_from(body))
    if got_version != version or method != METHOD_QR_OFFER:
        raise MalformedToken("unsupported pairing offer version")
    pos = _OFFER_FIXED.size
    escrow_len = body[pos]
    escrow = body[pos + 1:pos + 1 + escrow_len]
    pos += 1 + escrow_len
    if escrow_len not in (0, 32) or pos >= len(body):
        raise MalformedToken("pairing offer has an invalid escrow key")
    contact_len = body[pos]
    contact_raw = body[pos + 1:]
    if contact_len != len(contact_raw) or contact_len > MAX_CONTACT_BYTES:
        raise MalformedToken("pairing offer has an invalid bot contact")
    try:
        contact = contact_raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedToken("pairing offer has an invalid bot contact") from None
    if start >= MAX_EPOCH or grace > MAX_GRACE_DAYS:
        raise MalformedToken("pairing offer has an invalid rotation policy")
    return pairing_id, secret, eph, ident, start, grace, expires, escrow or None, contact


@dataclass(slots=True)
class PendingOffer:
    """The physician's side of an offer until the accept arrives (single use)."""

    offer: Offer
    ephemeral_private: bytearray
    offer_secret: bytearray
    used: bool = False

    def export(self) -> dict[str, Any]:
        """JSON-typed state; once used it no longer contains any secret."""
        return {
            "offer": None if self.used else prim.b64e(self.offer.to_bytes()),
            "public_offer": prim.b64e(self.offer.public_bytes()),
            "pairing_id": prim.b64e(self.offer.pairing_id),
            "ephemeral_private": None if self.used else prim.b64e(self.ephemeral_private),
            "used": self.used,
        }

    @classmethod
    def load(cls, state: dict[str, Any]) -> PendingOffer:
        try:
            if state["used"]:
                pid = prim.b64d(state["pairing_id"], PAIRING_ID_LEN)
                blank = Offer(pid, b"", b"", b"", 0, 0, 0, None, "")
                return cls(blank, bytearray(), bytearray(), used=True)
            offer = _parse_offer_bytes(prim.b64d(state["offer"]))
            return cls(offer, bytearray(prim.b64d(state["ephemeral_private"], 32)),
                       bytearray(offer.offer_secret))
        except (KeyError, TypeError, MalformedToken):
            raise StorageError("pending offer state is damaged") from None

    def wipe(self) -> None:
        prim.wipe(self.ephemeral_private)
        prim.wipe(self.offer_secret)


@dataclass(slots=True)
class PairingOutcome:
    """What any pairing method hands to the session: the first epoch key and the pins."""

    role: Role
    pairing_id: bytes
    start_epoch: int
    grace_days: int
    own_identity: bytes
    peer_identity: bytes
    escrow_public: bytes | None
    bot_contact: str
    transcript_hash: bytes
    start_key: bytearray


def create_offer(
    identity_public: bytes, *, clock: Clock, rng: prim.Rng = os.urandom,
    grace_days: int = DEFAULT_GRACE_DAYS, escrow_public: bytes | None = None,
    bot_contact: str = "", ttl: timedelta = OFFER_TTL,
) -> PendingOffer:
    """A fresh offer valid for ``ttl`` from the injected clock's now."""
    if len(identity_public) != 32 or (escrow_public is not None and len(escrow_public) != 32):
        raise MalformedToken("identity and escrow public keys must be 32 bytes")
    if not 0 <= grace_days <= MAX_GRACE_DAYS:
        raise MalformedToken(f"grace window must be 0..{MAX_GRACE_DAYS} days")
    if len(bot_contact.encode("utf-8")) > MAX_CONTACT_BYTES:
        raise MalformedToken(f"bot contact must be at most {MAX_CONTACT_BYTES} bytes")
    now = clock.now()
    pairing_id = rng(PAIRING_ID_LEN)
    secret = bytearray(rng(32))
    eph_private = bytearray(rng(32))
    expires = int((now + ttl).astimezone(UTC).timestamp())
    offer = Offer(pairing_id, bytes(secret), prim.x25519_public(eph_private), identity_public,
                  epoch_of(now), grace_days, expires, escrow_public, bot_contact)
    return PendingOffer(offer, eph_private, secret)


def _transcript(offer: Offer, patient_ephemeral: bytes, patient_identity: bytes) -> bytes:
    return prim.sha256(
        LABEL_TRANSCRIPT + offer.public_bytes() + patient_ephemeral + patient_identity)


def _mac(secret: bytes | bytearray, pairing_id: bytes, transcript: bytes) -> bytes:
    mac_key = bytearray(prim.hkdf_sha256(secret, salt=pairing_id, info=LABEL_MAC_KEY))
    try:
        return prim.hmac_sha256(mac_key, LABEL_MAC + transcript)
    finally:
        prim.wipe(mac_key)


def _start_key(
    shared: bytes, secret: bytes | bytearray, offer: Offer, transcript: bytes,
) -> bytearray:
    ikm = bytearray(shared + bytes(secret))
    root = bytearray(prim.hkdf_sha256(ikm, salt=offer.pairing_id, info=LABEL_ROOT + transcript))
    try:
        return bytearray(initial_epoch_key(root, offer.start_epoch))
    finally:
        prim.wipe(ikm)
        prim.wipe(root)


def accept_offer(
    offer_text: str, identity_public: bytes, *, clock: Clock, rng: prim.Rng = os.urandom,
) -> tuple[str, PairingOutcome]:
    """Patient side: the PAIR_ACCEPT token to send, and the outcome to build a session."""
    offer = parse_offer_text(offer_text)
    if offer.expired(clock.now()):
        raise OfferExpired("this pairing offer has expired; ask for a new QR code")
    if prim.constant_time_equal(identity_public, offer.identity_public):
        raise WrongPairing("a companion cannot pair with itself")
    eph_private = bytearray(rng(32))
    secret = bytearray(offer.offer_secret)
    try:
        eph_public = prim.x25519_public(eph_private)
        shared = prim.x25519_shared(eph_private, offer.ephemeral_public)
        transcript = _transcript(offer, eph_public, identity_public)
        mac = _mac(secret, offer.pairing_id, transcript)
        start_key = _start_key(shared, secret, offer, transcript)
    finally:
        prim.wipe(eph_private)
        prim.wipe(secret)
    body = bytes([METHOD_QR_OFFER]) + eph_public + identity_public + mac
    token = encode_token(encode_accept(offer.pairing_id, body))
    return token, PairingOutcome(
        Role.PATIENT, offer.pairing_id, offer.start_epoch, offer.grace_days, identity_public,
        offer.identity_public, offer.escrow_public, offer.bot_contact, transcript, start_key)


def complete_offer(pending: PendingOffer, accept_token: str, *, clock: Clock) -> PairingOutcome:
    """Physician side: verify the accept and derive the same first epoch key, once."""
    token = parse_token(accept_token)
    if token.header.kind is not Kind.PAIR_ACCEPT:
        raise MalformedToken("expected a pairing accept token")
    if token.header.pairing_id != pending.offer.pairing_id:
        raise WrongPairing("accept token is for another pairing offer")
    if pending.used:
        raise OfferReused("this pairing offer was already used")
    offer = pending.offer
    if offer.expired(clock.now()):
        raise OfferExpired("this pairing offer has expired; create a new one")
    body = token.body
    eph_public, identity_public, mac = body[1:33], body[33:65], body[65:97]
    if prim.constant_time_equal(identity_public, offer.identity_public):
        raise WrongPairing("a companion cannot pair with itself")
    shared = prim.x25519_shared(pending.ephemeral_private, eph_public)
    transcript = _transcript(offer, eph_public, identity_public)
    if not prim.constant_time_equal(_mac(pending.offer_secret, offer.pairing_id, transcript), mac):
        raise DecryptionFailed
    start_key = _start_key(shared, pending.offer_secret, offer, transcript)
    pending.used = True
    pending.wipe()
    return PairingOutcome(
        Role.PHYSICIAN, offer.pairing_id, offer.start_epoch, offer.grace_days,
        offer.identity_public, identity_public, offer.escrow_public, offer.bot_contact,
        transcript, start_key)


class QrOfferMethod:
    """The in-person QR method (method byte 1); the first :class:`PairingMethod`."""

    method_id = METHOD_QR_OFFER
    name = "qr-offer"
    create = staticmethod(create_offer)
    accept = staticmethod(accept_offer)
    complete = staticmethod(complete_offer)


METHODS: dict[int, PairingMethod] = {METHOD_QR_OFFER: QrOfferMethod()}
