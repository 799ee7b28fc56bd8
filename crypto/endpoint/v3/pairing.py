"""Key-confirmed v3 pairing by QR code: derivations and the patient's side
(docs/PROTOCOL.md §30-§33, docs/adr/0020; the physician's side is
:mod:`crypto.endpoint.v3.physician`).

Why each step exists (v2's pairing was hijacked two ways, issue 13):

* **Admission** - the accept carries ``A`` (derived from the offer secret) and the bot
  holds only ``H(A)``: a stranger who knows just the pairing id is dropped by the bot.
* **Identity signature** - the patient signs the transcript ``T`` with its identity key,
  so an accept cannot carry someone's identity key with another party's ephemeral key.
* **Verification code** - derived from the *secret* root ``RK0`` and ``T``: whoever holds
  a photo of the QR cannot predict the code of the real patient's accept (it needs the
  patient's X25519 secret), so a withheld or swapped accept shows a different code.
* **Key confirmation** - the physician's companion sends KEY_CONFIRM only on an explicit
  ``PhysicianPairing.confirm`` after the codes matched in person (Cancel is the
  default); the patient's companion hands out its :class:`PairingSecrets` only after
  verifying it.  The bot binds the patient's account only on it.
* **Two valid accepts abort** - a second valid accept proves the QR was seen by someone
  else; the physician cannot tell which one is the patient, so both are refused.

Draws from ``rng`` (fixed order, recorded by the vectors): physician - pairing id (16),
offer secret (32), ``E_d`` private (32); patient - ``E_p`` private (32).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, replace
from typing import Any

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.clock import Clock
from medcrypt.crypto.endpoint.pairing import Role
from medcrypt.crypto.endpoint.session import IdentityKey
from medcrypt.crypto.endpoint.v3.offer import (
    OfferV3,
    admission_value,
    parse_offer_bytes_v3,
    parse_offer_text_v3,
)
from medcrypt.crypto.endpoint.v3.types import PairingSecrets
from medcrypt.crypto.errors import (
    DecryptionFailed,
    MalformedToken,
    MedCryptError,
    OfferExpired,
    OfferReused,
    QrShared,
    StorageError,
    WrongPairing,
)
from medcrypt.crypto.keyless.pairing_wire import (
    METHOD_QR_OFFER,
    VERSION_3,
    AcceptV3,
    KeyConfirm,
    accept_hash,
    accept_prefix,
    encode_accept_v3,
)
from medcrypt.crypto.keyless.wire import encode_token, parse_token

LABEL_TRANSCRIPT = b"MEDCRYPT v3 pairing transcript"
LABEL_ROOT = b"MEDCRYPT v3 root"
LABEL_ACCEPT_SIGNATURE = b"MEDCRYPT v3 accept signature"
LABEL_CODE = b"MEDCRYPT v3 verification code"
LABEL_CONFIRM_KEY = b"MEDCRYPT v3 key confirm key"
LABEL_CONFIRM_MAC = b"MEDCRYPT v3 key confirm"
LABEL_CONFIRM_SIGNATURE = b"MEDCRYPT v3 key confirm signature"
#: Decimal digits of the verification code (ADR 0020: one online guess per in-person
#: confirmation, 10^-6 per attempt, as Bluetooth numeric comparison).
CODE_DIGITS = 6
PATIENT_STATE_FORMAT = "medcrypt-v3-pairing-patient/1"


# --------------------------------------------------------------------------- derivations


def transcript_hash(offer: OfferV3, patient_ephemeral: bytes, patient_identity: bytes) -> bytes:
    """``T``: version, method, pairing id, the whole public offer (both of the physician's
    keys, escrow key and policy), the patient's ephemeral and identity keys."""
    public = offer.public_bytes()
    return prim.sha256(LABEL_TRANSCRIPT + bytes([VERSION_3, METHOD_QR_OFFER]) + offer.pairing_id
                       + struct.pack(">H", len(public)) + public
                       + patient_ephemeral + patient_identity)


def root_key(shared: bytes, offer_secret: bytes | bytearray, pairing_id: bytes,
             transcript: bytes) -> bytearray:
    """``RK0 = HKDF(X25519 || offer secret, salt = pairing id, "MEDCRYPT v3 root" || T)``."""
    return bytearray(prim.hkdf_sha256(bytes(shared) + bytes(offer_secret), salt=pairing_id,
                                      info=LABEL_ROOT + transcript))


def verification_code(root: bytes | bytearray, transcript: bytes) -> str:
    """Six digits shown as ``123 456`` on both screens (u64 mod 10^6: bias < 2^-44)."""
    raw = prim.hkdf_sha256(root, salt=None, info=LABEL_CODE + transcript, length=8)
    digits = f"{int.from_bytes(raw, 'big') % 10 ** CODE_DIGITS:0{CODE_DIGITS}d}"
    return f"{digits[:3]} {digits[3:]}"


def confirm_mac(root: bytes | bytearray, transcript: bytes, a_hash: bytes) -> bytes:
    """Proof that the confirmer derived the same ``RK0`` for exactly this accept."""
    key = prim.hkdf_sha256(root, salt=None, info=LABEL_CONFIRM_KEY)
    return prim.hmac_sha256(key, LABEL_CONFIRM_MAC + transcript + a_hash)


def parse_step(token_text: str, kind: type[AcceptV3] | type[KeyConfirm]) -> AcceptV3 | KeyConfirm:
    info = parse_token(token_text).pairing3
    if not isinstance(info, kind):
        raise MalformedToken("unexpected token kind for this pairing step")
    return info


def identity_seed(identity: IdentityKey) -> bytearray:
    return bytearray(prim.b64d(identity.export(), 32))


# --------------------------------------------------------------------------- patient


@dataclass(slots=True)
class PatientPairing:
    """The patient's side after sending its accept: unusable until KEY_CONFIRM verifies."""

    offer: OfferV3
    accept_token: str
    code: str
    transcript: bytes
    _accept_hash: bytes
    _root: bytearray
    _ephemeral_private: bytearray
    _identity_seed: bytearray
    _ephemeral_public: bytes
    done: bool = False

    def verify_confirmation(self, token_text: str) -> PairingSecrets:
        """Check KEY_CONFIRM (physician's signature, this accept, same root) and only then
        hand out the secrets; every failure leaves the pairing unverified."""
        if self.done:
            raise OfferReused("this pairing was already confirmed")
        confirm = parse_step(token_text, KeyConfirm)
        assert isinstance(confirm, KeyConfirm)
        offer = self.offer
        if confirm.pairing_id != offer.pairing_id:
            raise WrongPairing("key confirmation is for another pairing")
        prim.ed25519_verify(offer.identity_public, LABEL_CONFIRM_SIGNATURE + confirm.signed_bytes,
                            confirm.signature)
        if not prim.constant_time_equal(confirm.accept_hash, self._accept_hash):
            raise QrShared("the physician confirmed another device's answer: this QR was "
                           "photographed or shared: pair again")
        if not prim.constant_time_equal(
                confirm.confirm_mac, confirm_mac(self._root, self.transcript, self._accept_hash)):
            raise DecryptionFailed
        secrets = PairingSecrets(
            Role.PATIENT, offer.pairing_id, offer.start_epoch, offer.grace_days, self.transcript,
            bytearray(self._root), bytearray(self._identity_seed), offer.identity_public,
            offer.escrow_public, self._ephemeral_public, bytearray(self._ephemeral_private),
            None, offer.ephemeral_public)
        self.done = True
        self.wipe()
        return secrets

    def wipe(self) -> None:
        for buffer in (self._root, self._ephemeral_private, self._identity_seed):
            prim.wipe(buffer)

    def export(self) -> dict[str, Any]:
        """JSON-typed state for the keystore until KEY_CONFIRM arrives: the offer (its
        secret already zeroed), the accept sent, ``RK0`` and ``E_p``'s private key. The
        identity seed is the keystore's own and is not repeated; once verified, no secret
        remains."""
        return {"format": PATIENT_STATE_FORMAT, "offer": prim.b64e(self.offer.to_bytes()),
                "accept_token": self.accept_token, "done": self.done,
                "root": None if self.done else prim.b64e(self._root),
                "ephemeral_private": None if self.done else prim.b64e(self._ephemeral_private)}

    @classmethod
    def load(cls, state: dict[str, Any], identity: IdentityKey) -> PatientPairing:
        """The inverse of :meth:`export`, checked: the accept must be this identity's and
        ``E_p``'s; StorageError if the state is damaged or belongs to another identity."""
        try:
            if state["format"] != PATIENT_STATE_FORMAT:
                raise StorageError("unknown patient pairing state format")
            offer = parse_offer_bytes_v3(prim.b64d(state["offer"]))
            accept = parse_step(state["accept_token"], AcceptV3)
            assert isinstance(accept, AcceptV3)
            done = bool(state["done"])
            root = bytearray(32 if done else prim.b64d(state["root"], 32))
            eph = bytearray(32 if done else prim.b64d(state["ephemeral_private"], 32))
            if not prim.constant_time_equal(accept.patient_identity, identity.public) or (
                    not done and prim.x25519_public(eph) != accept.patient_ephemeral):
                raise StorageError("patient pairing state belongs to another identity")
        except StorageError:
            raise
        except (KeyError, TypeError, ValueError, MedCryptError):
            raise StorageError("patient pairing state is damaged") from None
        transcript = transcript_hash(offer, accept.patient_ephemeral, accept.patient_identity)
        code = "" if done else verification_code(root, transcript)
        return cls(offer, state["accept_token"], code, transcript,
                   accept.accept_hash, root, eph,
                   bytearray(32) if done else identity_seed(identity), accept.patient_ephemeral,
                   done)


def accept_offer_v3(
    qr_text: str, identity: IdentityKey, *, clock: Clock, rng: prim.Rng = os.urandom,
) -> PatientPairing:
    """Patient side: read the QR, make ``E_p``, sign ``T``, build PAIR_ACCEPT v3."""
    offer = parse_offer_text_v3(qr_text)
    if offer.expired(clock.now()):
        raise OfferExpired("this pairing offer has expired; ask for a new QR code")
    if prim.constant_time_equal(identity.public, offer.identity_public):
        raise WrongPairing("a companion cannot pair with itself")
    eph_private = bytearray(rng(32))
    secret = bytearray(offer.offer_secret)
    try:
        eph_public = prim.x25519_public(eph_private)
        shared = prim.x25519_shared(eph_private, offer.ephemeral_public)
        transcript = transcript_hash(offer, eph_public, identity.public)
        root = root_key(shared, secret, offer.pairing_id, transcript)
        prefix = accept_prefix(offer.pairing_id, admission_value(secret, offer.pairing_id),
                               eph_public, identity.public)
    except BaseException:
        prim.wipe(eph_private)
        raise
    finally:
        prim.wipe(secret)
    raw = encode_accept_v3(prefix, identity.sign(LABEL_ACCEPT_SIGNATURE + transcript))
    # The patient never needs the offer secret again: keep the offer without it.
    return PatientPairing(replace(offer, offer_secret=bytes(32)), encode_token(raw),
                          verification_code(root, transcript), transcript, accept_hash(raw), root,
                          eph_private, identity_seed(identity), eph_public)
