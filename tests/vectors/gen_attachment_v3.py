"""Padded (``MCF3``) attachment-container vectors, part of ``python -m tests.vectors.generate``.

Each case seals ``pattern(size)`` (byte i = i mod 251) with the RNG of the generator;
the draws (file key 32, file id 16, stream header 24) are recorded in order, so another
implementation replays them and must produce the same manifest and container bytes.
The 1000- and 1001-byte cases share a bucket and so a container length: the point of
the padded format (docs/PROTOCOL.md §14, ADR 0022).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from typing import Any

from medcrypt.crypto.endpoint.attachment import container_size, padded_size, seal_file
from medcrypt.crypto.keyless.wire import Direction

#: (plaintext size, whether the whole container is committed rather than its SHA-256).
CASES = ((0, True), (1000, True), (1001, True), (4097, True), (65536, False),
         (66537, False), (200000, False))
PAIRING_ID = bytes(range(16, 32))


def pattern(n: int) -> bytes:
    """The documented plaintext formula: byte i = i mod 251."""
    return bytes(i % 251 for i in range(n))


def attachment_v3_vectors(rng: Callable[[int], bytes], take: Callable[[], list[str]]
                          ) -> dict[str, Any]:
    """The vector document; ``take`` returns (and forgets) the draws made since last call."""
    cases = []
    for size, full in CASES:
        out = io.BytesIO()
        manifest = seal_file(io.BytesIO(pattern(size)), out, pairing_id=PAIRING_ID,
                             epoch=682, direction=Direction.PHYSICIAN_TO_PATIENT,
                             name="lab-result.pdf", mime_type="application/pdf", rng=rng)
        container = out.getvalue()
        assert len(container) == container_size(size)
        case: dict[str, Any] = {
            "plaintext_size": size,
            "padded_size": padded_size(size),
            "rng_draws": take(),
            "pairing_id": PAIRING_ID.hex(),
            "epoch": 682,
            "direction": 1,
            "name": "lab-result.pdf",
            "mime_type": "application/pdf",
            "manifest": manifest.to_bytes().hex(),
            "plaintext_sha256": hashlib.sha256(pattern(size)).hexdigest(),
            "container_size": len(container),
            "container_sha256": hashlib.sha256(container).hexdigest(),
        }
        if full:
            case["container"] = container.hex()
        cases.append(case)
    return {
        "description": "MEDCRYPT padded attachment containers (MCF3); plaintext byte i = "
                       "i mod 251; stream = plaintext || zeros up to padded_size; rng draws "
                       "file key (32), file id (16), secretstream header (24) per case",
        "chunk_size": 65536,
        "cases": cases,
    }
