"""Pairing tags: the short name people use for a pairing ("K7Q-2MX"), PROTOCOL §37.

Why derived, not drawn: the tag is a function of the random 16-byte pairing id, so the
physician's companion, the patient's companion and the bot all compute the same tag with
no round trip and no new field on the wire (docs/adr/0031). The pairing id is already in
every token header, so the tag reveals nothing the relay and the platform did not see.

Why a hash and not the id's first characters: a hex prefix is 16 symbols of 4 bits that
people misread; a tag is six Crockford base32 symbols (30 bits; no I, L, O or U), read
aloud or retyped on a phone without ambiguity. The hash spreads every bit of the id into
the tag, so two ids sharing a prefix do not share a tag. 30 bits collide: the bot's
database keeps tags unique and refuses the registration of a colliding offer (the
physician makes a new QR), which happens about once in 100 000 registrations for a
clinic holding 10 000 pairings.

The encoding is the standard library's base32 with its alphabet translated to
Crockford's; only the translation table is ours.
"""

from __future__ import annotations

import base64
import hashlib

#: Domain separation: the tag hash is used for nothing else.
_LABEL = b"MEDCRYPT-TAG\x00v1\x00"
_RFC4648 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
#: Crockford's base32 alphabet, in value order (the same as bot confirmation codes).
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TO_CROCKFORD = str.maketrans(_RFC4648, CROCKFORD)
#: How a person may mistype a symbol: Crockford decodes O as 0 and I, L as 1.
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
#: Symbols in a tag (30 bits) and where the hyphen goes when shown.
TAG_SYMBOLS = 6
_GROUP = 3
#: Length of a tag as shown, with its hyphen ("K7Q-2MX").
TAG_CHARS = TAG_SYMBOLS + 1
PAIRING_ID_BYTES = 16


def tag_of(pairing_id: bytes) -> str:
    """The tag of a 16-byte pairing id, as shown: ``XXX-XXX``."""
    if len(pairing_id) != PAIRING_ID_BYTES:
        raise ValueError("a pairing id is 16 bytes")
    digest = hashlib.sha256(_LABEL + pairing_id).digest()
    symbols = base64.b32encode(digest[:5]).decode("ascii").translate(_TO_CROCKFORD)
    return f"{symbols[:_GROUP]}-{symbols[_GROUP:TAG_SYMBOLS]}"


def tag_of_hex(pairing_hex: str) -> str:
    """:func:`tag_of` for the hex form of an id (how the bot stores it)."""
    return tag_of(bytes.fromhex(pairing_hex))


def parse_tag(text: str) -> str | None:
    """The tag ``text`` names, as shown (``XXX-XXX``), or None if it is not a tag.

    Accepts what a person types: any case, with or without the hyphen (only between the
    two groups), surrounding spaces, and O, I, L for 0, 1, 1. Never raises.
    """
    body = text.strip().upper()
    if len(body) == TAG_CHARS and body[_GROUP] == "-":
        body = body[:_GROUP] + body[_GROUP + 1:]
    body = body.translate(_READ_AS)
    if len(body) != TAG_SYMBOLS or not set(body) <= set(CROCKFORD):
        return None
    return f"{body[:_GROUP]}-{body[_GROUP:]}"
