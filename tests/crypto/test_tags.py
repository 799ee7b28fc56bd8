"""Pairing tags (PROTOCOL §37): the vectors, an independent encoder, and the parser."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcrypt.crypto.keyless.tags import CROCKFORD, parse_tag, tag_of, tag_of_hex

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "pairing_tags.json")
                     .read_text("utf-8"))["vectors"]


def _by_hand(pairing_id: bytes) -> str:
    """The first 30 bits of the labelled hash, five bits a symbol, by integer arithmetic."""
    bits = int.from_bytes(hashlib.sha256(b"MEDCRYPT-TAG\x00v1\x00" + pairing_id).digest()[:4])
    symbols = "".join(CROCKFORD[(bits >> (27 - 5 * i)) & 31] for i in range(6))
    return f"{symbols[:3]}-{symbols[3:]}"


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["tag"])
def test_vectors(vector: dict[str, str]) -> None:
    assert tag_of_hex(vector["pairing_id"]) == vector["tag"]
    assert _by_hand(bytes.fromhex(vector["pairing_id"])) == vector["tag"]


@given(st.binary(min_size=16, max_size=16))
def test_tag_matches_an_independent_encoder_and_parses_back(pairing_id: bytes) -> None:
    tag = tag_of(pairing_id)
    assert tag == _by_hand(pairing_id)
    assert parse_tag(tag) == tag
    assert parse_tag(tag.lower().replace("-", "")) == tag
    assert parse_tag(f"  {tag.lower()} ") == tag


def test_tag_needs_sixteen_bytes() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        tag_of(b"\x00" * 15)


@pytest.mark.parametrize(("typed", "meant"), [
    ("k7q-2mx", "K7Q-2MX"), ("K7Q2MX", "K7Q-2MX"), ("oil-ol0", "011-010"),
])
def test_parse_reads_what_people_type(typed: str, meant: str) -> None:
    assert parse_tag(typed) == meant


@pytest.mark.parametrize("bad", [
    "", "K7Q-2M", "K7Q-2MXX", "K7-Q2MX", "K7Q--2MX", "KUQ-2MX", "K7Q 2MX", "0123abcd",
    "K7Q-2M\u00d7", "\uff2b7Q-2MX",
])
def test_parse_refuses_what_is_no_tag(bad: str) -> None:
    assert parse_tag(bad) is None


@given(st.text(max_size=20))
def test_parse_never_raises_and_is_canonical(text: str) -> None:
    parsed = parse_tag(text)
    if parsed is not None:
        assert len(parsed) == 7 and parsed[3] == "-"
        assert set(parsed.replace("-", "")) <= set(CROCKFORD)
        assert parse_tag(parsed) == parsed
