"""Keyless layouts of the v3 pairing tokens: PAIR_REGISTER, PAIR_ACCEPT, KEY_CONFIRM.

The bot imports this (through :mod:`crypto.keyless.wire`): everything here is public and
nothing touches a key.  What the relay does with it is admission and binding
(docs/PROTOCOL.md §30-§34, docs/adr/0020 and 0021):

* PAIR_REGISTER v3 carries ``H_A``, a hash of the *admission value* ``A`` that the
  physician's companion derives from the offer secret.  The bot stores ``H_A`` and
  nothing secret.
* PAIR_ACCEPT v3 carries ``A`` itself.  ``SHA-256(label || pairing id || A) == H_A`` lets
  the bot drop a stranger's accept (who knows the pairing id, not the QR) without a key.
* KEY_CONFIRM names the accept the physician confirmed by :func:`accept_hash`; the bot
  binds the account that sent exactly those accept bytes, and nobody else.

Each fixed-size kind has exactly one valid length; any other MUST be rejected.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.errors import MalformedToken
from medcrypt.crypto.keyless.epochs import MAX_EPOCH

VERSION_3 = 3
KIND_PAIR_REGISTER = 2
KIND_PAIR_ACCEPT = 3
KIND_KEY_CONFIRM = 6
#: The in-person QR method (the same method byte as v2).
METHOD_QR_OFFER = 1

LABEL_ADMISSION_HASH = b"MEDCRYPT v3 admission hash"
LABEL_ACCEPT_HASH = b"MEDCRYPT v3 accept hash"

_PID = 16
_HEAD = struct.Struct(">BB16s")  # version kind pairing-id
REGISTER = struct.Struct(">BB16sIBHQ32s")  # ... start-epoch method grace expires H_A
ACCEPT = struct.Struct(">BB16sB32s32s32s64s")  # ... method A E_p I_p signature
CONFIRM = struct.Struct(">BB16s32s32s64s")  # ... accept-hash confirm-mac signature
REGISTER_LEN = REGISTER.size  # 65
ACCEPT_LEN = ACCEPT.size  # 179
CONFIRM_LEN = CONFIRM.size  # 146
#: KEY_CONFIRM bytes covered by its signature (everything before the signature).
CONFIRM_SIGNED_LEN = CONFIRM_LEN - 64
#: PAIR_ACCEPT bytes covered by nothing but the accept hash (the signature is over T).
ADMISSION_LEN = 32


@dataclass(frozen=True, slots=True)
class RegisterV3:
    """Public policy of a v3 offer and the hash of its admission value."""

    pairing_id: bytes
    start_epoch: int
    method: int
    grace_days: int
    expires_at: int
    admission_hash: bytes


@dataclass(frozen=True, slots=True)
class AcceptV3:
    """A v3 accept as the relay sees it: nothing here is authenticated by the bot
    except ``admission`` (against the registered hash)."""

    pairing_id: bytes
    method: int
    admission: bytes
    patient_ephemeral: bytes
    patient_identity: bytes
    signature: bytes
    raw: bytes

    @property
    def accept_hash(self) -> bytes:
        return accept_hash(self.raw)


@dataclass(frozen=True, slots=True)
class KeyConfirm:
    """A content-free KEY_CONFIRM: which accept the physician confirmed, and proofs the
    patient's companion checks (the bot cannot check either)."""

    pairing_id: bytes
    accept_hash: bytes
    confirm_mac: bytes
    signature: bytes
    raw: bytes

    @property
    def signed_bytes(self) -> bytes:
        return self.raw[:CONFIRM_SIGNED_LEN]


PairingV3 = RegisterV3 | AcceptV3 | KeyConfirm


def admission_hash(pairing_id: bytes, admission: bytes) -> bytes:
    """``H_A = SHA-256("MEDCRYPT v3 admission hash" || pairing id || A)``."""
    _need(pairing_id, _PID, "pairing id")
    _need(admission, ADMISSION_LEN, "admission value")
    return prim.sha256(LABEL_ADMISSION_HASH + pairing_id + admission)


def admits(registered_hash: bytes, accept: AcceptV3) -> bool:
    """Whether ``accept`` carries the admission value of the registered offer
    (constant time: the comparison is with a stored value)."""
    return prim.constant_time_equal(
        admission_hash(accept.pairing_id, accept.admission), registered_hash)


def accept_hash(accept_raw: bytes) -> bytes:
    """``SHA-256("MEDCRYPT v3 accept hash" || PAIR_ACCEPT binary)``: names one accept."""
    if len(accept_raw) != ACCEPT_LEN:
        raise MalformedToken("accept token has the wrong length")
    return prim.sha256(LABEL_ACCEPT_HASH + accept_raw)


def _need(value: bytes, length: int, what: str) -> None:
    if len(value) != length:
        raise MalformedToken(f"{what} must be {length} bytes")


# --------------------------------------------------------------------------- parse


def parse_v3_pairing(raw: bytes) -> PairingV3:
    """Parse a v3 PAIR_REGISTER, PAIR_ACCEPT or KEY_CONFIRM binary token, strictly."""
    if len(raw) < _HEAD.size or raw[0] != VERSION_3:
        raise MalformedToken("not a v3 pairing token")
    kind = raw[1]
    if kind == KIND_PAIR_REGISTER:
        return _register(raw)
    if kind == KIND_PAIR_ACCEPT:
        return _accept(raw)
    if kind == KIND_KEY_CONFIRM:
        return _confirm(raw)
    raise MalformedToken("not a v3 pairing token")


def _register(raw: bytes) -> RegisterV3:
    if len(raw) != REGISTER_LEN:
        raise MalformedToken("registration token has the wrong length")
    _v, _k, pid, epoch, method, grace, expires, h_a = REGISTER.unpack(raw)
    if epoch >= MAX_EPOCH or method != METHOD_QR_OFFER:
        raise MalformedToken("registration token has an invalid field")
    return RegisterV3(pid, epoch, method, grace, expires, h_a)


def _accept(raw: bytes) -> AcceptV3:
    if len(raw) != ACCEPT_LEN:
        raise MalformedToken("accept token has the wrong length")
    _v, _k, pid, method, adm, eph, ident, sig = ACCEPT.unpack(raw)
    if method != METHOD_QR_OFFER:
        raise MalformedToken("accept token names an unknown pairing method")
    return AcceptV3(pid, method, adm, eph, ident, sig, bytes(raw))


def _confirm(raw: bytes) -> KeyConfirm:
    if len(raw) != CONFIRM_LEN:
        raise MalformedToken("key confirmation has the wrong length")
    _v, _k, pid, a_hash, mac, sig = CONFIRM.unpack(raw)
    return KeyConfirm(pid, a_hash, mac, sig, bytes(raw))


# --------------------------------------------------------------------------- build


def encode_register_v3(pairing_id: bytes, start_epoch: int, grace_days: int, expires_at: int,
                       admission_hash_: bytes) -> bytes:
    """Binary PAIR_REGISTER v3: public policy and ``H_A`` (no secret, no key)."""
    _need(pairing_id, _PID, "pairing id")
    _need(admission_hash_, 32, "admission hash")
    if not 0 <= start_epoch < MAX_EPOCH or not 0 <= grace_days <= 0xFFFF or \
            not 0 <= expires_at <= 0xFFFFFFFFFFFFFFFF:
        raise MalformedToken("registration field out of range")
    return REGISTER.pack(VERSION_3, KIND_PAIR_REGISTER, pairing_id, start_epoch,
                         METHOD_QR_OFFER, grace_days, expires_at, admission_hash_)


def accept_prefix(pairing_id: bytes, admission: bytes, patient_ephemeral: bytes,
                  patient_identity: bytes) -> bytes:
    """PAIR_ACCEPT v3 without its signature (115 bytes)."""
    _need(pairing_id, _PID, "pairing id")
    for value, what in ((admission, "admission value"), (patient_ephemeral, "ephemeral key"),
                        (patient_identity, "identity key")):
        _need(value, 32, what)
    return (_HEAD.pack(VERSION_3, KIND_PAIR_ACCEPT, pairing_id) + bytes([METHOD_QR_OFFER])
            + admission + patient_ephemeral + patient_identity)


def encode_accept_v3(prefix: bytes, signature: bytes) -> bytes:
    _need(prefix, ACCEPT_LEN - 64, "accept prefix")
    _need(signature, 64, "signature")
    return prefix + signature


def confirm_prefix(pairing_id: bytes, accept_hash_: bytes, confirm_mac: bytes) -> bytes:
    """KEY_CONFIRM without its signature: the bytes the physician's identity signs."""
    _need(pairing_id, _PID, "pairing id")
    _need(accept_hash_, 32, "accept hash")
    _need(confirm_mac, 32, "confirmation MAC")
    return _HEAD.pack(VERSION_3, KIND_KEY_CONFIRM, pairing_id) + accept_hash_ + confirm_mac


def encode_confirm(prefix: bytes, signature: bytes) -> bytes:
    _need(prefix, CONFIRM_SIGNED_LEN, "confirmation prefix")
    _need(signature, 64, "signature")
    return prefix + signature
