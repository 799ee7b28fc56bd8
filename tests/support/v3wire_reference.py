"""The v3 MESSAGE token-text parser as main had it at 55361e7 (tests only).

``crypto/keyless/v3wire.parse_message_text`` is now one pass (one base64 decode, one
unpack, one range check). This module keeps the chain of functions it replaced, copied
unchanged - text checks, canonical base64, header, deposit section, each re-slicing and
re-validating - so a property test can hold the new parser to the old one's answers:
the same accept or refuse, and the same fields, on any input. It shares with the product
only the result types and the constants that define the format.
"""

from __future__ import annotations

import binascii
import struct

from medcrypt.crypto.errors import MalformedToken
from medcrypt.crypto.keyless.epochs import MAX_EPOCH
from medcrypt.crypto.keyless.v3wire import (
    DEPOSIT_LEN,
    HEADER_LEN,
    KIND_MESSAGE,
    PREFIX,
    SUFFIX,
    TAG_LEN,
    VERSION,
    MessageHeader,
    MessageToken,
)
from medcrypt.crypto.keyless.wire import ASCII_WHITESPACE, MAX_TOKEN_BYTES, Direction

_HEADER = struct.Struct(">BB16sIB32sIIII24s")
_DEPOSIT_LEN = struct.Struct(">H")
_DIRECTIONS = (Direction.PATIENT_TO_PHYSICIAN, Direction.PHYSICIAN_TO_PATIENT)
_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_INDEX = {c: i for i, c in enumerate(_B64_ALPHABET)}


def decode_payload(payload: str) -> bytes:
    if not payload or len(payload) % 4 == 1 or "=" in payload:
        raise MalformedToken("token payload has an impossible length or padding")
    try:
        raw = binascii.a2b_base64(payload + "=" * (-len(payload) % 4), strict_mode=True)
    except (binascii.Error, ValueError):
        raise MalformedToken("token payload is not base64") from None
    rest = len(payload) % 4
    if rest and _B64_INDEX[payload[-1]] & (0x0F if rest == 2 else 0x03):
        raise MalformedToken("token payload is not canonical base64")
    return raw


def _check_fields(
    epoch: int, direction: int, chain_epoch: int, prev_epoch: int, prev_len: int,
) -> None:
    if direction not in (0, 1):
        raise MalformedToken("token direction is invalid")
    if epoch >= MAX_EPOCH or chain_epoch > epoch:
        raise MalformedToken("token epoch or chain epoch is invalid")
    if prev_len == 0 and prev_epoch != 0:
        raise MalformedToken("token names a previous segment of no messages")
    if prev_len and epoch > chain_epoch and not chain_epoch <= prev_epoch < epoch:
        raise MalformedToken("token's previous segment is out of order")
    if prev_epoch > epoch:
        raise MalformedToken("token's previous segment is out of order")


def parse_header(raw: bytes | memoryview) -> MessageHeader:
    if len(raw) < HEADER_LEN:
        raise MalformedToken("token is truncated")
    (version, kind, pairing_id, epoch, direction, chain_id, chain_epoch, index, prev_epoch,
     prev_len, nonce) = _HEADER.unpack_from(raw)
    if version != VERSION or kind != KIND_MESSAGE:
        raise MalformedToken("not a v3 message token")
    _check_fields(epoch, direction, chain_epoch, prev_epoch, prev_len)
    return MessageHeader(pairing_id, epoch, _DIRECTIONS[direction], chain_id, chain_epoch, index,
                         prev_epoch, prev_len, nonce, bytes(raw[:HEADER_LEN]))


def parse_message(raw: bytes) -> MessageToken:
    if len(raw) > MAX_TOKEN_BYTES:
        raise MalformedToken("token is too large")
    header = parse_header(raw)
    if len(raw) < HEADER_LEN + _DEPOSIT_LEN.size:
        raise MalformedToken("token is truncated")
    (length,) = _DEPOSIT_LEN.unpack_from(raw, HEADER_LEN)
    if length not in (0, DEPOSIT_LEN):
        raise MalformedToken("deposit section has an invalid length")
    start = HEADER_LEN + _DEPOSIT_LEN.size
    body_start = start + length
    if len(raw) < body_start + TAG_LEN:
        raise MalformedToken("token is truncated")
    deposit = raw[start:body_start] if length else None
    return MessageToken(header, deposit, memoryview(raw)[body_start:])


def decode_text(text: str) -> bytes:
    if not isinstance(text, str):
        raise MalformedToken("token must be text")
    text = text.strip(ASCII_WHITESPACE)
    if not text.startswith(PREFIX) or not text.endswith(SUFFIX):
        raise MalformedToken("not a MEDCRYPT v3 token")
    if len(text) > len(PREFIX) + len(SUFFIX) + (MAX_TOKEN_BYTES * 4 + 2) // 3:
        raise MalformedToken("token text is too long")
    raw = decode_payload(text[len(PREFIX):-len(SUFFIX)])
    if raw[0] != VERSION:
        raise MalformedToken("token text and binary version differ")
    return raw


def parse_message_text(text: str) -> MessageToken:
    return parse_message(decode_text(text))
