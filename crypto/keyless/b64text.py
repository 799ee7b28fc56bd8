"""Base64 typed or pasted by a person (a key on a command line), by PROTOCOL §1's rules.

Why a decoder of its own: the token payload is unpadded by definition, but a key
printed by ``medcrypt-bot escrow init`` carries ``=`` padding and a user may copy it
with or without. Both forms are accepted; everything that would give a second text for
the same bytes (non-zero trailing bits, wrong padding) or another alphabet is refused,
so one key has one accepted spelling apart from its padding.
"""

from __future__ import annotations

from medcrypt.crypto.errors import MalformedToken
from medcrypt.crypto.keyless.wire import ASCII_WHITESPACE, decode_payload


def decode_b64_text(text: str, *, length: int | None = None) -> bytes:
    """Standard-alphabet base64, ``=`` padding optional but exact, canonical.

    Surrounding ASCII whitespace is ignored (as around a token); empty text is refused. Raises
    :class:`MalformedToken` for anything else, or for a result not ``length`` bytes long.
    """
    body = text.strip(ASCII_WHITESPACE)
    stripped = body.rstrip("=")
    padding = len(body) - len(stripped)
    if padding and (padding > 2 or (len(stripped) + padding) % 4):
        raise MalformedToken("base64 padding is wrong")
    raw = decode_payload(stripped)
    if length is not None and len(raw) != length:
        raise MalformedToken(f"expected {length} bytes of base64, got {len(raw)}")
    return raw
