"""Keyless encoder of break-glass bundles (layout: ``crypto/endpoint/breakglass.py`` docstring).

The bot collects raw deposit and message tokens and seals them, with a manifest and a
SHA-256 digest, to the escrow public key. It cannot undo that: the matching private key
exists only as SLIP-39 shares held by people. The clear header comes from
``crypto.keyless.bundle_wire``, which the opener reads with; the bot may not import the
opening module, and a round-trip test pins the two together.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from medcrypt.crypto.errors import ConfigError
from medcrypt.crypto.keyless.bundle_wire import FORMAT, encode_header
from medcrypt.crypto.keyless.sealing import seal_to_public_key

_U32 = struct.Struct(">I")


def escrow_public_from_config(text: str) -> bytes:
    """``clinic.escrow_public_key`` (base64url, with or without padding) as 32 bytes."""
    value = text.strip()
    if not value:
        raise ConfigError("clinic.escrow_public_key", "not set: run `medcrypt-bot escrow init`")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ConfigError("clinic.escrow_public_key", "not base64url") from None
    if len(raw) != 32:
        raise ConfigError("clinic.escrow_public_key", "must decode to 32 bytes")
    return raw


def build_bundle(
    escrow_public: bytes, code: str, manifest: Mapping[str, Any], items: Sequence[bytes],
    *, rng: Callable[[int], bytes] = os.urandom,
) -> bytes:
    """Seal ``manifest`` and the raw token ``items`` to ``escrow_public``."""
    header = encode_header(code, escrow_public)
    full = {**manifest, "format": FORMAT, "request": code, "items": len(items)}
    manifest_bytes = json.dumps(full, sort_keys=True, separators=(",", ":")).encode("utf-8")
    parts = [header, _U32.pack(len(manifest_bytes)), manifest_bytes, _U32.pack(len(items))]
    for item in items:
        parts += [_U32.pack(len(item)), item]
    body = b"".join(parts)
    inner = body + hashlib.sha256(body).digest()
    return header + seal_to_public_key(escrow_public, inner, rng=rng)


def bundle_digest(bundle: bytes) -> str:
    """What the request row and the audit entry remember of the exported file."""
    return hashlib.sha256(bundle).hexdigest()
