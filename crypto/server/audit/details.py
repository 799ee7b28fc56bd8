"""Audit details: validated canonical JSON, sealed under the subject's key.

``0x01 | nonce 24 | XChaCha20-Poly1305(canonical JSON)`` with AAD = label | seq |
subject_ref | action, so a ciphertext cannot be moved to another entry, subject or
action. Keys that name message content or direct identifiers are refused at append
time, so a body or a phone number cannot reach the log even by accident. Deleting the
subject's key shreds every detail written about them while the hash chain (which
covers the ciphertext) still verifies.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Callable, Mapping

from medcrypt.crypto._primitives import xchacha_decrypt, xchacha_encrypt
from medcrypt.crypto.errors import DecryptionFailed, MalformedToken
from medcrypt.crypto.server.audit.entry import (
    FORMAT_VERSION,
    MAX_DETAILS_PLAINTEXT,
    NONCE_BYTES,
    length_prefixed,
)

_DETAILS_LABEL = b"MEDCRYPT-AUDIT-DETAILS\x00v1\x00"
_DETAIL_KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,31}\Z")
#: Detail keys that name message content or direct identifiers: refused outright, so a
#: caller cannot put a body or a phone number into the log even by accident.
FORBIDDEN_DETAIL_KEYS = frozenset({
    "body", "text", "plaintext", "message", "content", "caption", "token",
    "phone", "phone_number", "msisdn", "number", "name", "email", "address",
})

DetailValue = str | int | bool | None | list[str | int | bool | None]
Details = Mapping[str, DetailValue]


def encode_details(details: Details | None) -> bytes:
    """Canonical JSON of a flat mapping of small values, after refusing content keys."""
    items = dict(details or {})
    for key, value in items.items():
        if not isinstance(key, str) or not _DETAIL_KEY_RE.match(key):
            raise ValueError("detail keys must be short lowercase identifiers")
        if key in FORBIDDEN_DETAIL_KEYS:
            raise ValueError(f"detail key {key!r} would hold content or an identifier")
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and len(value) > 64:
            raise ValueError("detail lists hold at most 64 values")
        for v in values:
            if v is not None and not isinstance(v, str | int | bool):
                raise TypeError("detail values must be str, int, bool, None or lists of them")
    data = json.dumps(items, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    encoded = data.encode("utf-8")
    if len(encoded) > MAX_DETAILS_PLAINTEXT:
        raise ValueError(f"details exceed {MAX_DETAILS_PLAINTEXT} bytes")
    return encoded


def _details_aad(seq: int, subject_ref: str, action: str) -> bytes:
    return (_DETAILS_LABEL + struct.pack(">Q", seq)
            + length_prefixed(subject_ref.encode("ascii"))
            + length_prefixed(action.encode("ascii")))


def seal_details(
    subject_key: bytes, seq: int, subject_ref: str, action: str, plaintext: bytes,
    *, rng: Callable[[int], bytes],
) -> bytes:
    """``0x01 | nonce 24 | XChaCha20-Poly1305``; AAD binds seq, subject and action."""
    nonce = rng(NONCE_BYTES)
    if len(nonce) != NONCE_BYTES:
        raise ValueError("rng returned the wrong number of bytes")
    ct = xchacha_encrypt(subject_key, nonce, plaintext, _details_aad(seq, subject_ref, action))
    return bytes([FORMAT_VERSION]) + nonce + ct


def open_details(
    subject_key: bytes, seq: int, subject_ref: str, action: str, sealed: bytes
) -> dict[str, DetailValue]:
    """Decrypt and parse details; any failure is the opaque :class:`DecryptionFailed`."""
    if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[0] != FORMAT_VERSION:
        raise DecryptionFailed()
    try:
        plain = xchacha_decrypt(subject_key, sealed[1:1 + NONCE_BYTES],
                                sealed[1 + NONCE_BYTES:], _details_aad(seq, subject_ref, action))
        parsed = json.loads(plain.decode("utf-8"))
    # MalformedToken: a subject key of the wrong length opens nothing, opaquely too.
    except (MalformedToken, UnicodeError, ValueError):
        raise DecryptionFailed() from None
    if not isinstance(parsed, dict):
        raise DecryptionFailed()
    return parsed
