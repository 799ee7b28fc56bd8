"""The clear header of a break-glass bundle, shared by the bot that seals and the opener.

The bot builds bundles (``bot.domain.breakglass.bundle``) and the offline opener
(``crypto.endpoint.breakglass``, run by ``medcrypt-breakglass``) reads them. The header
is keyless - magic, version, request code, escrow PUBLIC key - so it lives here, once,
and both sides use it: the bot may not import opening code, and a copy of the layout in
each would drift. The full layout is in ``crypto/endpoint/breakglass.py``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from medcrypt.crypto.errors import MalformedToken

MAGIC = b"MCBG"
VERSION = 1
CODE_LEN = 10
HEADER = struct.Struct(">4sB10s32s")
HEADER_LEN = HEADER.size  # 47
FORMAT = "medcrypt-breakglass/1"
#: Parser limit: a month of a busy pairing is far below it.
MAX_BUNDLE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class BundleHeader:
    """The clear part of a bundle: which request, sealed to which escrow key."""

    version: int
    code: str
    escrow_public: bytes


def encode_header(code: str, escrow_public: bytes) -> bytes:
    """The 47-byte clear header; a code that is not 10 lowercase hex digits is refused."""
    raw = code.encode("ascii", errors="replace")
    if len(raw) != CODE_LEN or not _is_code(raw) or len(escrow_public) != 32:
        raise MalformedToken("bundle code must be 10 hex digits and the key 32 bytes")
    return HEADER.pack(MAGIC, VERSION, raw, escrow_public)


def parse_header(data: bytes) -> BundleHeader:
    """Read the clear header; anything else than a v1 bundle is MalformedToken."""
    if len(data) < HEADER_LEN:
        raise MalformedToken("not a break-glass bundle (too short)")
    if len(data) > MAX_BUNDLE_BYTES:
        raise MalformedToken("break-glass bundle exceeds the size limit")
    magic, version, code, escrow_public = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise MalformedToken("not a break-glass bundle (bad magic)")
    if version != VERSION:
        raise MalformedToken(f"unsupported break-glass bundle version {version}")
    if not _is_code(code):
        raise MalformedToken("break-glass bundle has an invalid request code")
    return BundleHeader(version, code.decode("ascii"), bytes(escrow_public))


def _is_code(raw: bytes) -> bool:
    return all(0x30 <= c <= 0x39 or 0x61 <= c <= 0x66 for c in raw)
