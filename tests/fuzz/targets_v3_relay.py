"""Fuzz targets for what the bot parses of v3 break-glass material (tests/fuzz/run_all.py).

Each target may only raise :class:`crypto.errors.MedCryptError`. Seeds are a real
PIN_RECORD token (binary and text) of one pairing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from medcrypt.crypto.keyless import record_wire, wire

_RAW = record_wire.encode_record_token(bytes(range(16)), bytes(range(210)),
                                       bytes(range(1, 33)), rng=lambda n: bytes(n))


def fuzz_parse_record_token(data: bytes) -> None:
    token = record_wire.parse_record_token(data)
    assert record_wire.encode_record_head(token.pairing_id) + token.sealed == data


def fuzz_parse_record_text(data: bytes) -> None:
    token = wire.parse_token(data.decode("utf-8", errors="replace"))
    if token.header.kind is wire.Kind.PIN_RECORD:
        assert len(token.raw) == record_wire.RECORD_TOKEN_LEN


TARGETS: dict[str, tuple[Callable[[bytes], object], Iterable[bytes]]] = {
    "parse_record_token": (fuzz_parse_record_token, [_RAW]),
    "parse_record_text": (fuzz_parse_record_text, [wire.encode_token(_RAW).encode()]),
}
