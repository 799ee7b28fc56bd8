"""Keyless layout of the v2 -> v3 UPGRADE tokens (kind 7, docs/PROTOCOL.md §35).

The bot imports this (through :mod:`crypto.keyless.wire`): everything here is public and
nothing touches a key.  An upgrade is two tokens over a live v2 pairing:

* **UPGRADE_OFFER** (step 1, physician -> patient): the v3 policy (start month, grace,
  expiry, escrow key) and a fresh X25519 key ``E_d``, signed by the physician's identity
  key that the v2 pairing pinned.
* **UPGRADE_ANSWER** (step 2, patient -> physician): names the offer by
  :func:`offer_hash` and carries a fresh X25519 key ``E_p``, signed by the patient's
  pinned identity key over the upgrade transcript.

The bot cannot check either signature (it holds no identity key); it checks the members
(offer from the physician, answer from the patient) and that the answer names the offer
it relayed, by :func:`offer_hash`.  Each step has exactly one valid length; any other
MUST be rejected.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.errors import MalformedToken
from medcrypt.crypto.keyless.epochs import MAX_EPOCH

VERSION_3 = 3
KIND_UPGRADE = 7
STEP_OFFER = 1
STEP_ANSWER = 2

LABEL_OFFER_HASH = b"MEDCRYPT v3 upgrade offer hash"

_PID = 16
# version kind pairing-id step start-epoch grace expires escrow-flag escrow E_d
OFFER_BODY = struct.Struct(">BB16sBIHQB32s32s")
ANSWER_BODY = struct.Struct(">BB16sB32s32s")  # ver kind pid step offer-hash E_p
OFFER_SIGNED_LEN = OFFER_BODY.size  # 98
ANSWER_PREFIX_LEN = ANSWER_BODY.size  # 83
OFFER_LEN = OFFER_SIGNED_LEN + 64  # 162
ANSWER_LEN = ANSWER_PREFIX_LEN + 64  # 147
_NO_ESCROW = bytes(32)


@dataclass(frozen=True, slots=True)
class UpgradeOffer:
    """Step 1 as the relay sees it (its signature is the patient's to check)."""

    pairing_id: bytes
    start_epoch: int
    grace_days: int
    expires_at: int
    escrow_public: bytes | None
    physician_ephemeral: bytes
    signature: bytes
    raw: bytes

    @property
    def signed_bytes(self) -> bytes:
        return self.raw[:OFFER_SIGNED_LEN]

    @property
    def offer_hash(self) -> bytes:
        return offer_hash(self.raw)


@dataclass(frozen=True, slots=True)
class UpgradeAnswer:
    """Step 2 as the relay sees it: which offer it answers, and the patient's key."""

    pairing_id: bytes
    offer_hash: bytes
    patient_ephemeral: bytes
    signature: bytes
    raw: bytes


Upgrade = UpgradeOffer | UpgradeAnswer


def offer_hash(offer_raw: bytes) -> bytes:
    """``SHA-256("MEDCRYPT v3 upgrade offer hash" || UPGRADE_OFFER binary)``."""
    if len(offer_raw) != OFFER_LEN:
        raise MalformedToken("upgrade offer has the wrong length")
    return prim.sha256(LABEL_OFFER_HASH + offer_raw)


def parse_upgrade(raw: bytes) -> Upgrade:
    """Parse a binary UPGRADE token, strictly (length, step, ranges)."""
    if len(raw) < 19 or raw[0] != VERSION_3 or raw[1] != KIND_UPGRADE:
        raise MalformedToken("not a v3 upgrade token")
    if raw[18] == STEP_OFFER:
        return _offer(raw)
    if raw[18] == STEP_ANSWER:
        return _answer(raw)
    raise MalformedToken("upgrade token names an unknown step")


def _offer(raw: bytes) -> UpgradeOffer:
    if len(raw) != OFFER_LEN:
        raise MalformedToken("upgrade offer has the wrong length")
    _v, _k, pid, _s, epoch, grace, expires, flag, escrow, eph = OFFER_BODY.unpack_from(raw)
    if epoch >= MAX_EPOCH or flag not in (0, 1) or (flag == 0 and escrow != _NO_ESCROW):
        raise MalformedToken("upgrade offer has an invalid field")
    return UpgradeOffer(pid, epoch, grace, expires, escrow if flag else None, eph,
                        raw[OFFER_SIGNED_LEN:], bytes(raw))


def _answer(raw: bytes) -> UpgradeAnswer:
    if len(raw) != ANSWER_LEN:
        raise MalformedToken("upgrade answer has the wrong length")
    _v, _k, pid, _s, o_hash, eph = ANSWER_BODY.unpack_from(raw)
    return UpgradeAnswer(pid, o_hash, eph, raw[ANSWER_PREFIX_LEN:], bytes(raw))


def _need(value: bytes, length: int, what: str) -> None:
    if len(value) != length:
        raise MalformedToken(f"{what} must be {length} bytes")


def offer_body(pairing_id: bytes, *, start_epoch: int, grace_days: int, expires_at: int,
               escrow_public: bytes | None, physician_ephemeral: bytes) -> bytes:
    """UPGRADE_OFFER without its signature: the bytes the physician's identity signs."""
    _need(pairing_id, _PID, "pairing id")
    _need(physician_ephemeral, 32, "ephemeral key")
    if escrow_public is not None:
        _need(escrow_public, 32, "escrow key")
    if not 0 <= start_epoch < MAX_EPOCH or not 0 <= grace_days <= 0xFFFF or \
            not 0 <= expires_at <= 0xFFFFFFFFFFFFFFFF:
        raise MalformedToken("upgrade offer field out of range")
    return OFFER_BODY.pack(VERSION_3, KIND_UPGRADE, pairing_id, STEP_OFFER, start_epoch,
                           grace_days, expires_at, 0 if escrow_public is None else 1,
                           escrow_public or _NO_ESCROW, physician_ephemeral)


def answer_prefix(pairing_id: bytes, offer_hash_: bytes, patient_ephemeral: bytes) -> bytes:
    """UPGRADE_ANSWER without its signature (the signature is over the transcript)."""
    _need(pairing_id, _PID, "pairing id")
    _need(offer_hash_, 32, "offer hash")
    _need(patient_ephemeral, 32, "ephemeral key")
    return ANSWER_BODY.pack(VERSION_3, KIND_UPGRADE, pairing_id, STEP_ANSWER, offer_hash_,
                            patient_ephemeral)


def with_signature(body: bytes, signature: bytes) -> bytes:
    """Append a 64-byte Ed25519 signature to an offer body or answer prefix."""
    if len(body) not in (OFFER_SIGNED_LEN, ANSWER_PREFIX_LEN):
        raise MalformedToken("upgrade token body has the wrong length")
    _need(signature, 64, "signature")
    return body + signature
