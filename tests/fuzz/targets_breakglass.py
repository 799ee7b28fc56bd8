"""Fuzz targets for the break-glass bundle parser, opener and SLIP-39 share input.

``bundle_inner`` re-computes the digest over the mutated bytes so mutations get past it
into the manifest, item and token parsing and the deposit opening; ``bundle_sealed``
mutates a whole sealed bundle (header checks, key check, box tag); ``shares`` feeds
mutated mnemonic text to the share combiner the CLI uses.
"""

from __future__ import annotations

import hashlib
import json
import struct
from datetime import UTC, datetime

from medcrypt.bot.domain.breakglass.bundle import build_bundle
from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.endpoint import breakglass
from medcrypt.crypto.endpoint.session import (
    IdentityKey,
    accept_pairing,
    complete_pairing,
    start_pairing,
)
from medcrypt.crypto.keyless import bundle_wire
from medcrypt.crypto.keyless.wire import parse_token

_PRIVATE = bytes(range(1, 33))
_PUBLIC = prim.x25519_public(_PRIVATE)
_CODE = "00112233aa"
_HEADER = bundle_wire.encode_header(_CODE, _PUBLIC)
_PARSED = bundle_wire.parse_header(_HEADER)


def _seed_items() -> tuple[bytes, list[bytes]]:
    clock = FixedClock(datetime(2026, 11, 3, tzinfo=UTC))
    counter = iter(range(1, 10_000))

    def rng(n: int) -> bytes:
        return hashlib.sha256(str(next(counter)).encode()).digest()[:n].ljust(n, b"\x07")

    phys, pat = IdentityKey(bytes(32)), IdentityKey(b"\x01" * 32)
    pending = start_pairing(phys, clock=clock, rng=rng, escrow_public=_PUBLIC)
    _patient, accept = accept_pairing(pending.offer.to_qr_text(), pat, clock=clock, rng=rng)
    physician = complete_pairing(pending, accept, phys, clock=clock, rng=rng)
    result = physician.encrypt(b"fuzz seed", clock=clock, rng=rng)
    items = [parse_token(t).raw for t in (result.escrow_deposit or "", result.token) if t]
    return physician.pairing_id, items


_PAIRING, _ITEMS = _seed_items()


def _inner_body(manifest: dict[str, object], items: list[bytes]) -> bytes:
    raw = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    parts = [_HEADER, struct.pack(">I", len(raw)), raw, struct.pack(">I", len(items))]
    for item in items:
        parts += [struct.pack(">I", len(item)), item]
    return b"".join(parts)


_MANIFEST = {"format": bundle_wire.FORMAT, "request": _CODE, "items": len(_ITEMS),
             "pairing": _PAIRING.hex()}


def _inner(data: bytes) -> object:
    contents = breakglass.parse_inner(_PARSED, _HEADER, data + hashlib.sha256(data).digest())
    return breakglass.open_contents(_PRIVATE, contents)


def _sealed(data: bytes) -> object:
    return breakglass.open_contents(_PRIVATE, breakglass.unseal(_PRIVATE, data))


def _shares(data: bytes) -> object:
    lines = data.decode("utf-8", "replace").splitlines()
    if lines:
        breakglass.shares_needed(lines[0])
    return breakglass.recover_secret(lines)


_VECTOR_SHARES = (
    b"shadow pistol academic always adequate wildlife fancy gross oasis cylinder mustang wrist "
    b"rescue view short owner flip making coding armed\n"
    b"shadow pistol academic acid actress prayer class unknown daughter sweater depict flip "
    b"twice unkind craft early superior advocate guest smoking")

TARGETS = {
    "bundle_inner": (_inner, [_inner_body(_MANIFEST, _ITEMS), _inner_body(_MANIFEST, [])]),
    "bundle_sealed": (_sealed, [build_bundle(_PUBLIC, _CODE, {"pairing": _PAIRING.hex()},
                                             _ITEMS, rng=lambda n: b"\x05" * n)]),
    "bundle_header": (bundle_wire.parse_header, [_HEADER]),
    "shares": (_shares, [_VECTOR_SHARES]),
}
