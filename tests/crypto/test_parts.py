"""Splitting tokens for platform limits and joining them back, in any order."""

from __future__ import annotations

import contextlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medcrypt.crypto.errors import LimitExceeded, MalformedToken, MedCryptError
from medcrypt.crypto.keyless import parts, wire
from medcrypt.crypto.keyless.wire import Direction, Kind


def _token(size: int) -> str:
    header = wire.encode_sealed_header(Kind.MESSAGE, b"\x01" * 16, epoch=670,
                                       direction=Direction.PATIENT_TO_PHYSICIAN, index=0,
                                       nonce=b"\x02" * 24)
    return wire.encode_token(header + random.Random(size).randbytes(size))


def _counter_rng() -> object:
    state = {"n": 0}

    def rng(n: int) -> bytes:
        state["n"] += 1
        return bytes([state["n"]]) * n
    return rng


@pytest.mark.parametrize("limit", [1600, 4096])
@pytest.mark.parametrize("size", [16, 2000, 9000, 70000])
def test_split_join_any_order(limit: int, size: int) -> None:
    text = _token(size)
    pieces = parts.split_token(text, limit)
    assert all(len(p) <= limit for p in pieces)
    if len(text) <= limit:
        assert pieces == [text]
    else:
        lengths = {len(p) for p in pieces[:-1]}
        assert len(lengths) <= 1  # uniform parts
    shuffled = pieces + pieces[:2]
    random.Random(1).shuffle(shuffled)
    assert parts.join_parts(shuffled) == text
    assembler = parts.PartAssembler()
    results = [assembler.add(p) for p in shuffled]
    assert next(r for r in results if r is not None) == text
    assert assembler.pending <= 1


def test_interleaved_groups() -> None:
    a, b = _token(5000), _token(6000)
    pa, pb = parts.split_token(a, 1600), parts.split_token(b, 1600)
    assembler = parts.PartAssembler()
    done = [r for x, y in zip(pa, pb, strict=False) for r in (assembler.add(x), assembler.add(y))
            if r is not None]
    done += [r for p in pa[len(pb):] + pb[len(pa):] if (r := assembler.add(p)) is not None]
    assert sorted(done) == sorted([a, b])


def test_conflicts_and_missing() -> None:
    pieces = parts.split_token(_token(5000), 1600, rng=lambda n: b"\x05" * n)
    with pytest.raises(MalformedToken, match="not all parts"):
        parts.join_parts(pieces[:-1])
    raw = wire.parse_token(pieces[0]).raw
    forged = wire.encode_token(raw[:-1] + bytes([raw[-1] ^ 1]))
    assembler = parts.PartAssembler()
    assembler.add(pieces[0])
    with pytest.raises(MalformedToken, match="same position"):
        assembler.add(forged)
    other = parts.split_token(_token(5000), 1600, rng=lambda n: b"\x06" * n)
    with pytest.raises(MalformedToken):
        parts.join_parts(pieces + other)
    with pytest.raises(MalformedToken):
        parts.split_token(pieces[0], 100)


def test_limits() -> None:
    with pytest.raises(LimitExceeded):
        parts.split_token(_token(5000), 40)
    assembler = parts.PartAssembler(max_pending=2)
    for i in range(2):
        assembler.add(wire.encode_token(wire.encode_part(bytes([i]) * 16, 0, 2, b"x")))
    with pytest.raises(LimitExceeded):
        assembler.add(wire.encode_token(wire.encode_part(b"\x09" * 16, 0, 2, b"x")))
    with pytest.raises(LimitExceeded):
        parts.PartAssembler().add(wire.encode_token(
            wire.encode_part(b"\x01" * 16, 0, parts.MAX_PARTS + 1, b"x")))
    big = parts.PartAssembler()
    chunk = b"x" * (1024 * 1024)
    big.add(wire.encode_token(wire.encode_part(b"\x01" * 16, 0, 3, chunk)))
    big.add(wire.encode_token(wire.encode_part(b"\x01" * 16, 1, 3, chunk)))
    with pytest.raises(LimitExceeded):
        big.add(wire.encode_token(wire.encode_part(b"\x01" * 16, 2, 3, b"yy")))


def test_nested_part_rejected() -> None:
    inner = wire.encode_part(b"\x01" * 16, 0, 2, b"abc")
    outer = [wire.encode_token(wire.encode_part(b"\x02" * 16, i, 2, inner[i * 10:(i + 1) * 10
                                                                         if i == 0 else None]))
             for i in range(2)]
    with pytest.raises(MalformedToken, match="part"):
        parts.join_parts(outer)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=80), max_size=6))
def test_assembler_raises_only_project_errors(chunks: list[bytes]) -> None:
    assembler = parts.PartAssembler()
    for chunk in chunks:
        text = wire.encode_token(chunk) if chunk else "[x]"
        with contextlib.suppress(MedCryptError):
            assembler.add(text)


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=16, max_value=20000), st.integers(min_value=60, max_value=5000))
def test_split_join_property(size: int, limit: int) -> None:
    text = _token(size)
    pieces = parts.split_token(text, limit)
    assert all(len(p) <= limit for p in pieces)
    random.Random(size).shuffle(pieces)
    assert parts.join_parts(pieces) == text
