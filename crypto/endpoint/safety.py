"""Safety numbers and fingerprints: what two people compare to rule out a swapped key.

The pairing binds both Ed25519 identity keys into its transcript, and every message is
signed with them; comparing a short number derived from both keys (read aloud or side by
side) proves that no one - a bot swapping keys, a photographed QR - sits in between.

Construction (as Signal's, docs/PROTOCOL.md "Safety number"): for each identity key,
``h = SHA-512(LABEL || key)`` iterated :data:`ITERATIONS` times as
``h = SHA-512(h || key)`` (the iterations make grinding a look-alike key expensive);
the first 30 bytes of ``h`` are six 5-byte big-endian integers, each reduced modulo
100000 to five digits, giving 30 digits per key.  The two 30-digit halves are ordered
by the keys' byte order so both sides print the same 60 digits, shown in 12 groups of 5.
"""

from __future__ import annotations

from medcrypt.crypto import _primitives as prim

LABEL = b"MEDCRYPT v2 safety number"
ITERATIONS = 5200
DIGITS_PER_KEY = 30


def _half(identity_public: bytes) -> str:
    digest = prim.sha512(LABEL + identity_public)
    for _ in range(ITERATIONS - 1):
        digest = prim.sha512(digest + identity_public)
    chunks = (int.from_bytes(digest[i:i + 5], "big") % 100000 for i in range(0, 30, 5))
    return "".join(f"{c:05d}" for c in chunks)


def safety_number(identity_a: bytes, identity_b: bytes) -> str:
    """60 digits in 12 space-separated groups of 5; symmetric in its arguments."""
    first, second = sorted((identity_a, identity_b))
    digits = _half(first) + _half(second)
    return " ".join(digits[i:i + 5] for i in range(0, len(digits), 5))


def fingerprint(identity_public: bytes) -> str:
    """Hex SHA-256 of an identity public key: what verified state is bound to."""
    return prim.sha256(b"MEDCRYPT v2 fingerprint" + identity_public).hex()
