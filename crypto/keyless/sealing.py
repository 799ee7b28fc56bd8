"""Sealing to a public key: what a party that must never read the result may still do.

The running bot seals break-glass bundles to the clinic's escrow PUBLIC key (DESIGN 3.4).
It holds no key that opens them: the matching private key exists only as SLIP-39 shares
on paper, and the opening code is endpoint code the bot may not import (ADR 0000). This
is why sealing lives in the keyless part and opening does not.

The construction is libsodium's ``crypto_box_seal`` (X25519 + XSalsa20-Poly1305 with a
fresh ephemeral key and the nonce ``BLAKE2b-192(epk || pk)``), byte for byte, so any
libsodium opens it; the ephemeral secret is drawn from an injectable ``rng`` (that is
what lets the escrow deposit and the bundle have fixed vectors) into a buffer that is
zeroed before the function returns. Nothing is kept that could open the box afterwards,
not even by the caller that sealed it.
"""

from __future__ import annotations

import os

from medcrypt.crypto import _primitives as prim

#: The 32-byte ephemeral public key and the 16-byte Poly1305 tag a sealed box adds.
SEALED_OVERHEAD = prim.SEALED_BOX_OVERHEAD
PUBLIC_KEY_LEN = prim.X25519_LEN


def seal_to_public_key(
    recipient_public: bytes, message: bytes, *, rng: prim.Rng = os.urandom,
) -> bytes:
    """Seal ``message`` so only the holder of ``recipient_public``'s private key opens it.

    Returns ``epk || box`` (``len(message) + SEALED_OVERHEAD`` bytes). A key that is not
    32 bytes is :class:`~medcrypt.crypto.errors.MalformedToken`. There is no associated
    data: a caller that needs a clear header bound to the box repeats it inside, as the
    break-glass bundle does.
    """
    return prim.sealed_box_seal(recipient_public, message, rng=rng)
