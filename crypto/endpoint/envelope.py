"""The signed, padded plaintext inside every MESSAGE token.

Layout (docs/PROTOCOL.md "Inner envelope")::

    version u8 (=1) | content_type u8 | sent_at u64 BE (Unix ms) | body_len u32 BE |
    body | signature 64 | zero padding to the bucket size

``signature = Ed25519(sender identity, "MEDCRYPT v2 envelope" || token header (51 bytes)
|| SHA-256(the fields above up to and including body))`` - the body is hashed once with
SHA-256 rather than twice inside Ed25519's SHA-512 (half the cost for a 1 MiB body).
Both members of a pairing know both chain keys, so the AEAD alone cannot say *who*
wrote a message; the signature by the identity key pinned at pairing can, and signing
the header binds it to this pairing, epoch, direction, index and nonce.  A wrong signer
is reported as the opaque :class:`DecryptionFailed`, like every other authentication
failure.

Padding hides the length: up to 4096 bytes the envelope is padded to a multiple of 256;
above, to the Padmé size (at most ~12 % overhead, leaking O(log log n) bits).  The
padded size must be exactly the bucket of the unpadded size and the padding all zero,
so there is one valid encoding per message.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import NamedTuple

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.clock import ensure_utc
from medcrypt.crypto.errors import LimitExceeded, MalformedToken

ENVELOPE_VERSION = 1
SIGNATURE_LABEL = b"MEDCRYPT v2 envelope"
MAX_BODY = 1024 * 1024
SMALL_LIMIT = 4096
SMALL_STEP = 256
_FIXED = struct.Struct(">BBQI")
_FIXED_LEN = _FIXED.size  # 14
OVERHEAD = _FIXED_LEN + prim.ED25519_SIG_LEN  # 78
#: 9999-12-31T23:59:59.999Z in Unix milliseconds: the last sent-at a receiver accepts
#: (the first is 0, 1970-01-01T00:00:00.000Z). The same calendar as the epochs (§2).
MAX_SENT_AT_MS = 253_402_300_799_999


class ContentType(IntEnum):
    """What the body is; the companion decides how to show it."""

    TEXT = 1
    ATTACHMENT_MANIFEST = 2
    CONTROL = 3


#: Wire value -> member: a dict lookup, where ``ContentType(value)`` is a call into
#: ``enum`` as dear as parsing the rest of the fixed fields (every message pays it).
_CONTENT_TYPES: dict[int, ContentType] = {member.value: member for member in ContentType}


class Envelope(NamedTuple):
    """An opened envelope (a named tuple: immutable, and cheaper to build than a frozen
    dataclass on every message opened)."""

    content_type: ContentType
    body: bytes
    sent_at: datetime


def padme(length: int) -> int:
    """Padmé (Nikitin et al., PETS 2019): round up keeping only the top bits of the length."""
    exponent = length.bit_length() - 1
    mantissa_bits = exponent.bit_length()
    low_bits = exponent - mantissa_bits
    mask = (1 << low_bits) - 1
    return (length + mask) & ~mask


def bucket_size(length: int) -> int:
    """Padded size of an envelope whose unpadded size is ``length``."""
    if length <= SMALL_LIMIT:
        return max(SMALL_STEP, -(-length // SMALL_STEP) * SMALL_STEP)
    return padme(length)


_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def timestamp_ms(at: datetime) -> int:
    """The ``sent_at`` field: milliseconds since 1970 in integer arithmetic (no float
    rounding) of an aware instant (naive ones are refused)."""
    return (ensure_utc(at) - _UNIX_EPOCH) // _MS


_timestamp_ms = timestamp_ms


def utc_timestamp_ms(at: datetime) -> int:
    """:func:`timestamp_ms` of an instant already passed through ``ensure_utc`` (a
    session's ``now``): the same integer, without converting it a second time."""
    return (at - _UNIX_EPOCH) // _MS


def check_body(content_type: ContentType, body: bytes | memoryview) -> None:
    """Raise :class:`MalformedToken` unless ``body`` is well formed for its type (§8).

    Why both sides check: a receiver that displays a TEXT with replacement characters
    shows the patient something the physician never wrote, and a CONTROL that two
    implementations parse differently is two protocols. TEXT is strict UTF-8 (no
    surrogates, no overlong forms, nothing above U+10FFFF); CONTROL is strict UTF-8 JSON
    (RFC 8259) whose top level is an object; a manifest has its own parser (§14.2).
    """
    if content_type is ContentType.ATTACHMENT_MANIFEST:
        return
    try:
        # str() decodes any buffer in place: no copy of a memoryview into the envelope.
        text = str(body, "utf-8")
    except UnicodeDecodeError:
        raise MalformedToken("message text is not valid UTF-8") from None
    if content_type is ContentType.CONTROL:
        try:
            value = json.loads(text)
        except ValueError:
            raise MalformedToken("control message is not JSON") from None
        if not isinstance(value, dict):
            raise MalformedToken("control message is not a JSON object")


def _signed_message(
    header: bytes, fixed: bytes, body: bytes | memoryview, label: bytes = SIGNATURE_LABEL,
) -> bytes:
    """``LABEL || header || SHA-256(fixed fields || body)``: one hashing pass per side.

    v3 passes its own label (``MEDCRYPT v3 envelope``): the layout and padding are
    v2's, the label keeps a v2 signature from ever verifying as a v3 one.
    """
    digest = hashlib.sha256(fixed)
    digest.update(body)
    return label + header + digest.digest()


def seal(
    header: bytes, content_type: ContentType, body: bytes, sent_at: datetime,
    sign: Callable[[bytes], bytes], *, label: bytes = SIGNATURE_LABEL,
) -> bytes:
    """The padded, signed envelope bytes that the AEAD will encrypt."""
    if len(body) > MAX_BODY:
        raise LimitExceeded(f"message body of {len(body)} bytes exceeds {MAX_BODY}")
    content_type = ContentType(content_type)
    check_body(content_type, body)
    return seal_checked(header, content_type, body, _timestamp_ms(sent_at), sign, label=label)


def seal_checked(
    header: bytes, content_type: ContentType, body: bytes, sent_at_ms: int,
    sign: Callable[[bytes], bytes], *, label: bytes = SIGNATURE_LABEL,
) -> bytes:
    """:func:`seal` for a caller that has already refused a body over :data:`MAX_BODY`
    and run :func:`check_body` on this very body with this content type.

    Why it exists: a session must refuse a bad body *before* it spends a chain index,
    so it checks first and seals afterwards; checking again here would only repeat the
    UTF-8 (or JSON) pass on every message.  ``sent_at_ms`` comes from
    :func:`timestamp_ms`.
    """
    fixed = _FIXED.pack(ENVELOPE_VERSION, content_type, sent_at_ms, len(body))
    signature = sign(_signed_message(header, fixed, body, label))
    unpadded = len(fixed) + len(body) + len(signature)
    return b"".join((fixed, body, signature, bytes(bucket_size(unpadded) - unpadded)))


def open_(
    header: bytes, inner: bytes, signer_public: bytes, *, label: bytes = SIGNATURE_LABEL,
) -> Envelope:
    """Parse and verify an envelope; wrong signer -> DecryptionFailed."""
    return Envelope(*open_fields(header, inner, signer_public, label=label))


def open_fields(
    header: bytes, inner: bytes, signer_public: bytes, *, label: bytes = SIGNATURE_LABEL,
) -> tuple[ContentType, bytes, datetime]:
    """:func:`open_` as a plain ``(content_type, body, sent_at)`` tuple, for a caller that
    builds its own result from it (a v3 session's ``Opened``) and so would discard the
    :class:`Envelope` on every message."""
    size = len(inner)
    if size < OVERHEAD:
        raise MalformedToken("envelope is truncated")
    version, ctype, stamp, body_len = _FIXED.unpack_from(inner)
    end = _FIXED_LEN + body_len
    if version != ENVELOPE_VERSION or end + prim.ED25519_SIG_LEN > size:
        raise MalformedToken("envelope header is invalid")
    if body_len > MAX_BODY:  # the sender's limit binds the receiver too (§8)
        raise MalformedToken("envelope body is longer than the protocol allows")
    unpadded = end + prim.ED25519_SIG_LEN
    # Counting zero bytes in place: no copy of up to ~12 % of a 1 MiB envelope.
    if size != bucket_size(unpadded) or inner.count(0, unpadded) != size - unpadded:
        raise MalformedToken("envelope padding is invalid")
    # The fixed fields and the body lie side by side: one SHA-256 over them, read in
    # place (the same digest as _signed_message's two updates).
    prim.ed25519_verify(signer_public,
                        label + header + hashlib.sha256(memoryview(inner)[:end]).digest(),
                        inner[end:unpadded])
    content_type = _CONTENT_TYPES.get(ctype)
    if content_type is None:
        raise MalformedToken("envelope field is out of range")
    if stamp > MAX_SENT_AT_MS:
        raise MalformedToken("envelope time is outside the supported calendar")
    body = inner[_FIXED_LEN:end]  # the one copy of the body: what the caller gets
    check_body(content_type, body)
    return content_type, body, _UNIX_EPOCH + stamp * _MS
