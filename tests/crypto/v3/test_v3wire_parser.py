"""The one-pass v3 token-text parser gives the answers of the chain it replaced.

``v3wire.parse_message_text`` (and the binary ``parse_message`` it shares its core
with) must accept exactly the texts that main's chain of functions accepted
(tests/support/v3wire_reference.py, copied unchanged) and return the same fields: on
well-formed tokens of every shape, on every token in tests/vectors/, on those mutated
byte by byte and character by character, and on arbitrary text.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from medcrypt.crypto.errors import MalformedToken
from medcrypt.crypto.keyless import v3wire, wire
from medcrypt.crypto.keyless.epochs import MAX_EPOCH
from medcrypt.crypto.keyless.wire import Direction
from tests.support import v3wire_reference as reference

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
_HEADER = struct.Struct(">BB16sIB32sIIII24s")


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _vector_tokens() -> list[str]:
    """Every v3 token text in the committed vectors (MESSAGE and every other kind)."""
    found: list[str] = []
    for path in sorted(VECTORS.glob("*.json")):
        for text in _strings(json.loads(path.read_text(encoding="utf-8"))):
            found += [t for t in wire.find_tokens(text) if t.startswith(v3wire.PREFIX)]
    return sorted(set(found))


VECTOR_TOKENS = _vector_tokens()


def _outcome(parse: Callable[[Any], v3wire.MessageToken], value: object) -> object:
    """What a parser made of ``value``: refused (only ever as MalformedToken), or every
    field it returned, types included."""
    try:
        token = parse(value)
    except MalformedToken:
        return "refused"
    h = token.header
    assert type(h.direction) is Direction and type(h.raw) is bytes
    assert type(token.body) is memoryview
    assert token.deposit is None or type(token.deposit) is bytes
    return (tuple(h), token.deposit, token.body.tobytes())


def assert_same_text(text: object) -> object:
    new = _outcome(v3wire.parse_message_text, text)
    assert new == _outcome(reference.parse_message_text, text)
    return new


def assert_same_binary(raw: bytes) -> None:
    assert _outcome(v3wire.parse_message, raw) == _outcome(reference.parse_message, raw)


u32 = st.integers(0, 0xFFFFFFFF)
#: One rule of the format broken on purpose (or none).
BREAKS = [None, None, None, "version", "kind", "direction", "epoch", "chain_epoch",
          "prev_without_len", "prev_order", "prev_after", "deposit_length", "short_body", "cut",
          "extend"]


@st.composite
def binary_tokens(draw: st.DrawFn) -> bytes:
    """A binary MESSAGE, well formed (half the time) or with one rule broken: every
    field drawn over its range and at the edges the header rules test."""
    epoch = draw(st.one_of(st.integers(0, MAX_EPOCH - 1), st.sampled_from([0, MAX_EPOCH - 1])))
    chain_epoch = draw(st.one_of(st.integers(0, epoch), st.just(epoch)))
    prev_len = draw(st.one_of(st.just(0), st.integers(1, 3), u32))
    if prev_len == 0:
        prev_epoch = 0
    elif epoch > chain_epoch:
        prev_epoch = draw(st.integers(chain_epoch, epoch - 1))
    else:
        prev_epoch = draw(st.integers(0, epoch))
    fields = {"version": 3, "kind": 1, "direction": draw(st.sampled_from([0, 1])),
              "epoch": epoch, "chain_epoch": chain_epoch, "prev_epoch": prev_epoch,
              "prev_len": prev_len}
    length = draw(st.sampled_from([0, v3wire.DEPOSIT_LEN]))
    broken = draw(st.sampled_from(BREAKS))
    if broken == "version":
        fields["version"] = draw(st.sampled_from([0, 1, 2, 4, 255]))
    elif broken == "kind":
        fields["kind"] = draw(st.sampled_from([0, 2, 3, 4, 255]))
    elif broken == "direction":
        fields["direction"] = draw(st.one_of(st.sampled_from([2, 3, 255]),
                                             st.integers(2, 255)))
    elif broken == "epoch":
        fields["epoch"] = draw(st.integers(MAX_EPOCH, 0xFFFFFFFF))
    elif broken == "chain_epoch":
        fields["chain_epoch"] = draw(st.integers(epoch + 1, 0xFFFFFFFF))
    elif broken == "prev_without_len":
        fields["prev_len"], fields["prev_epoch"] = 0, draw(st.integers(1, 0xFFFFFFFF))
    elif broken == "prev_order":  # a re-key naming a segment outside [chain, epoch)
        fields["prev_len"] = draw(st.integers(1, 0xFFFFFFFF))
        fields["prev_epoch"] = draw(st.one_of(st.integers(0, max(0, chain_epoch - 1)),
                                              st.integers(epoch, 0xFFFFFFFF)))
    elif broken == "prev_after":
        fields["prev_epoch"] = draw(st.integers(epoch + 1, 0xFFFFFFFF))
    elif broken == "deposit_length":
        length = draw(st.one_of(st.integers(1, v3wire.DEPOSIT_LEN - 1),
                                st.integers(v3wire.DEPOSIT_LEN + 1, 0xFFFF)))
    header = _HEADER.pack(
        fields["version"], fields["kind"], draw(st.binary(min_size=16, max_size=16)),
        fields["epoch"], fields["direction"], draw(st.binary(min_size=32, max_size=32)),
        fields["chain_epoch"], draw(u32), fields["prev_epoch"], fields["prev_len"],
        draw(st.binary(min_size=24, max_size=24)))
    deposit = draw(st.binary(min_size=min(length, 300), max_size=min(length, 300)))
    body = draw(st.one_of(st.binary(min_size=v3wire.TAG_LEN, max_size=300),
                          st.just(bytes(v3wire.TAG_LEN))))
    if broken == "short_body":  # not even an AEAD tag after the deposit section
        body = body[:draw(st.sampled_from([0, v3wire.TAG_LEN - 1]))]
    raw = header + length.to_bytes(2, "big") + deposit + body
    if broken == "cut":
        return raw[:draw(st.integers(0, len(raw) - 1))]
    if broken == "extend":
        return raw + draw(st.binary(min_size=1, max_size=64))
    return raw


def _text(raw: bytes) -> str:
    """The v3 token text of any bytes (stdlib base64, unpadded), whatever their version."""
    return v3wire.PREFIX + base64.b64encode(raw).decode("ascii").rstrip("=") + v3wire.SUFFIX


@settings(max_examples=400)
@given(binary_tokens(), st.sampled_from(["", " ", "\t\r\n", "\u00a0", "\x0b\x0c"]))
def test_generated_tokens_get_the_same_answer(raw: bytes, space: str) -> None:
    assert_same_binary(raw)
    assert_same_text(space + _text(raw) + space)


def test_every_vector_token_gets_the_same_answer() -> None:
    assert len(VECTOR_TOKENS) >= 10
    accepted = [t for t in VECTOR_TOKENS if assert_same_text(t) != "refused"]
    # The session vectors' MESSAGE tokens are accepted; the other kinds are refused.
    assert len(accepted) >= 6


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@st.composite
def mutated_texts(draw: st.DrawFn) -> str:
    """A vector token changed in its text: a character replaced (in or out of the base64
    alphabet), inserted or deleted, the wrapper changed, padding added, cut short."""
    text = draw(st.sampled_from(VECTOR_TOKENS))
    at = draw(st.integers(0, len(text)))
    how = draw(st.sampled_from(["replace", "insert", "delete", "pad", "cut", "wrap"]))
    char = draw(st.one_of(st.sampled_from(_ALPHABET), st.sampled_from("=[]: \n-_\u00e9"),
                          st.characters()))
    if how == "replace":
        return text[:at] + char + text[at + 1:]
    if how == "insert":
        return text[:at] + char + text[at:]
    if how == "delete":
        return text[:at] + text[at + 1:]
    if how == "pad":
        return text[:-1] + "=" * draw(st.integers(1, 3)) + "]"
    if how == "cut":
        return text[:at]
    return draw(st.sampled_from(["[MEDCRYPT:v2:", "[medcrypt:v3:", "[MEDCRYPT:v3:",
                                 "MEDCRYPT:v3:"])) + text[len(v3wire.PREFIX):]


@settings(max_examples=600)
@given(mutated_texts())
def test_mutated_vector_texts_get_the_same_answer(text: str) -> None:
    assert_same_text(text)


@settings(max_examples=400)
@given(st.sampled_from(VECTOR_TOKENS), st.data())
def test_vector_tokens_with_a_changed_byte_get_the_same_answer(
    text: str, data: st.DataObject,
) -> None:
    raw = bytearray(reference.decode_text(text))
    # Most flips land in the header and the deposit section, where the rules are.
    at = data.draw(st.one_of(st.integers(0, min(v3wire.HEADER_LEN + 1, len(raw) - 1)),
                             st.integers(0, len(raw) - 1)))
    raw[at] ^= data.draw(st.integers(1, 255))
    assert_same_binary(bytes(raw))
    assert_same_text(_text(bytes(raw)))


@settings(max_examples=300)
@example("")
@example(v3wire.PREFIX + v3wire.SUFFIX)
@example(v3wire.PREFIX + "A" + v3wire.SUFFIX)
@example(v3wire.PREFIX + "AAA=" + v3wire.SUFFIX)
@example(None)
@example(b"[MEDCRYPT:v3:AAAA]")
@given(st.one_of(st.text(), st.text(alphabet=_ALPHABET).map(
    lambda s: v3wire.PREFIX + s + v3wire.SUFFIX)))
def test_arbitrary_text_gets_the_same_answer(text: object) -> None:
    assert_same_text(text)


def test_every_length_around_the_minimums_gets_the_same_answer() -> None:
    header = _HEADER.pack(3, 1, bytes(16), 683, 1, bytes(range(32)), 682, 4, 682, 3, bytes(24))
    for section in (b"\x00\x00", v3wire.DEPOSIT_LEN.to_bytes(2, "big") + bytes(234)):
        whole = header + section + bytes(v3wire.TAG_LEN + 2)
        for end in range(len(whole) - v3wire.TAG_LEN - 4, len(whole) + 1):
            assert_same_binary(whole[:end])
            assert_same_text(_text(whole[:end]))
    for end in range(v3wire.HEADER_LEN + 3):
        assert_same_binary(header[:end] + bytes(max(0, end - v3wire.HEADER_LEN)))
