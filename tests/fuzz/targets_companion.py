"""Fuzz targets for the companion's parsers (see tests/fuzz/run_all.py).

Each function takes bytes and must return or raise a MedCryptError; anything else is a
bug. Seeds are valid inputs so mutations explore near the accepted language.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from medcrypt.companion.keystore import HEADER_LEN, MAGIC, Keystore
from medcrypt.companion.offer_input import extract_offer_text
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.endpoint import v1
from medcrypt.crypto.endpoint.attachment import (
    Manifest,
    open_file,
    read_container_header,
    seal_file,
)
from medcrypt.crypto.endpoint.pairing import create_offer
from medcrypt.crypto.errors import MedCryptError
from medcrypt.crypto.keyless.wire import Direction
from tests.companion.gen_vectors import fixed_rng
from tests.support.mcf2_writer import seal_mcf2

_RNG = bytes(range(32)) + bytes(range(100, 116)) + bytes(range(200, 224))


def _seed_container() -> tuple[bytes, Manifest]:
    out = io.BytesIO()
    manifest = seal_file(io.BytesIO(b"lab values " * 40), out, pairing_id=bytes(16), epoch=682,
                         direction=Direction.PATIENT_TO_PHYSICIAN, name="lab.txt",
                         mime_type="text/plain", rng=fixed_rng(_RNG))
    return out.getvalue(), manifest


_CONTAINER, _MANIFEST = _seed_container()  # padded MCF3, what writers write
_CONTAINER2, _MANIFEST2 = seal_mcf2(b"lab values " * 40, pairing_id=bytes(16), epoch=682,
                                    direction=Direction.PATIENT_TO_PHYSICIAN, name="lab.txt",
                                    mime_type="text/plain", rng=fixed_rng(_RNG))
_OFFER = create_offer(bytes(range(32)), clock=FixedClock(datetime(2026, 11, 23, tzinfo=UTC)),
                      rng=fixed_rng(bytes(range(96))), escrow_public=bytes(range(1, 33)),
                      bot_contact="@clinic_bot").offer.to_qr_text()
_KEYSTORE_HEADER = (MAGIC + b"\x01" + (2).to_bytes(4, "big") + (8192).to_bytes(4, "big")
                    + bytes(16) + bytes(24))
assert len(_KEYSTORE_HEADER) == HEADER_LEN
_V1 = ("[MEDCRYPT:v1:cGF0aWVudC0wMDQy:AQEBAQEBAQEBAQEB:imp63XltGGUFpm4f7iOsH9qaGA==:"
       "Vs9N9gGwiCdF5MK2AFlSFg==]")


def fuzz_manifest(data: bytes) -> None:
    Manifest.from_bytes(data)


def _fuzz_open(data: bytes, manifest: Manifest, seed: bytes) -> None:
    """Header parse and full open under the seed's manifest (mutations must never open)."""
    read_container_header(io.BytesIO(data))
    try:
        open_file(io.BytesIO(data), io.BytesIO(), manifest)
    except MedCryptError:
        return
    if data != seed:
        raise AssertionError("a mutated container opened")


def fuzz_container(data: bytes) -> None:
    """The padded format: a mutated header, chunk, padding or length must never open."""
    _fuzz_open(data, _MANIFEST, _CONTAINER)


def fuzz_container_mcf2(data: bytes) -> None:
    """The unpadded format older companions wrote, which readers still open."""
    _fuzz_open(data, _MANIFEST2, _CONTAINER2)


def fuzz_v1(data: bytes) -> None:
    v1.parse_v1(data.decode("utf-8", "replace"))


def fuzz_keystore_header(data: bytes) -> None:
    Keystore._parse(data)


def fuzz_offer_input(data: bytes) -> None:
    extract_offer_text(data.decode("utf-8", "replace"))


TARGETS: dict[str, tuple[Callable[[bytes], object], Iterable[bytes]]] = {
    "manifest": (fuzz_manifest, [_MANIFEST.to_bytes()]),
    "container": (fuzz_container, [_CONTAINER]),
    "container_mcf2": (fuzz_container_mcf2, [_CONTAINER2]),
    "v1_token": (fuzz_v1, [_V1.encode()]),
    "keystore_header": (fuzz_keystore_header, [_KEYSTORE_HEADER + bytes(32)]),
    "offer_input": (fuzz_offer_input, [_OFFER.encode(), f"scan: {_OFFER}.".encode()]),
}
