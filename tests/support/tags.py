"""Pairing ids whose tags collide: a birthday search over the tags' 30 bits.

Tens of thousands of SHA-256 hashes, a fraction of a second; computed once per process.
"""

from __future__ import annotations

import itertools
from functools import cache

from medcrypt.crypto.keyless.tags import tag_of_hex


@cache
def colliding_ids() -> tuple[str, str]:
    """Two different pairing ids (hex), in the order found, whose tags are equal."""
    seen: dict[str, str] = {}
    for n in itertools.count():
        pid = n.to_bytes(16, "big").hex()
        tag = tag_of_hex(pid)
        if tag in seen:
            return seen[tag], pid
        seen[tag] = pid
    raise AssertionError("unreachable")
