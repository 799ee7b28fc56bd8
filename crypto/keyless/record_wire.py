"""Keyless layout of the v3 PIN_RECORD token: a pinned-key record sealed to the escrow key.

The physician's companion sends the pinned-key record of a pairing (PROTOCOL §34.1) to
the bot right after KEY_CONFIRM, so that break-glass finds it next to the deposits it
vouches for (§34.3, docs/adr/0026). It is sealed to the clinic's escrow public key:
the bot stores an opaque box and learns neither identity key, and a platform that
carries the token learns nothing either. Sealing needs only a public key, so it is
keyless (the companion calls :func:`encode_record_token`); opening is break-glass's.

``0x03 | 0x08 | pairing id (16) | SealedBox(escrow_public, record) (258)`` - 276 bytes;
any other length MUST be rejected.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.errors import MalformedToken
from medcrypt.crypto.keyless.sealing import SEALED_OVERHEAD, seal_to_public_key

VERSION_3 = 3
KIND_PIN_RECORD = 8
#: The pinned-key record's length (PROTOCOL §34.1: 146-byte body + 64-byte signature).
RECORD_LEN = 210
SEALED_RECORD_LEN = RECORD_LEN + SEALED_OVERHEAD  # 258
_HEAD = struct.Struct(">BB16s")
RECORD_TOKEN_LEN = _HEAD.size + SEALED_RECORD_LEN  # 276


@dataclass(frozen=True, slots=True)
class RecordToken:
    """A parsed PIN_RECORD: which pairing it names, and the sealed record."""

    pairing_id: bytes
    sealed: bytes


def encode_record_head(pairing_id: bytes) -> bytes:
    """The 18 bytes before the sealed record (what the bot re-frames a kept one with)."""
    if len(pairing_id) != 16:
        raise MalformedToken("pairing id must be 16 bytes")
    return _HEAD.pack(VERSION_3, KIND_PIN_RECORD, pairing_id)


def encode_record_token(
    pairing_id: bytes, record: bytes, escrow_public: bytes, *, rng: prim.Rng = os.urandom,
) -> bytes:
    """The binary PIN_RECORD of ``record`` (the 210 signed bytes), sealed to the escrow."""
    if len(record) != RECORD_LEN:
        raise MalformedToken("pinned-key record has the wrong length")
    return encode_record_head(pairing_id) + seal_to_public_key(escrow_public, record, rng=rng)


def parse_record_token(raw: bytes) -> RecordToken:
    """Parse a binary PIN_RECORD strictly (the box itself only the escrow key opens)."""
    if len(raw) != RECORD_TOKEN_LEN:
        raise MalformedToken("pinned-key record token has the wrong length")
    version, kind, pairing_id = _HEAD.unpack_from(raw)
    if version != VERSION_3 or kind != KIND_PIN_RECORD:
        raise MalformedToken("not a pinned-key record token")
    return RecordToken(pairing_id, bytes(raw[_HEAD.size:]))
