"""Keyless codec of the MEDCRYPT v3 MESSAGE token (docs/PROTOCOL.md §21-§23).

A v3 MESSAGE is ``header (95 bytes) || u16 deposit length || deposit || AEAD body``.
The header is the AEAD's associated data and is signed inside the envelope; the
deposit section is deliberately *outside* both, so the bot can strip the escrow deposit
(§23) without breaking the token, and a receiver opens the same token with or without it.

Everything here is public: the bot imports this module to route a token, to strip and
store its deposit by (pairing, month, direction, chain id) and to refuse a token of a
shredded month.  Parsing is as strict as v2's: exact lengths, canonical base64, every
field range checked before any key is touched, and only :class:`MalformedToken` raised.
"""

from __future__ import annotations

import binascii
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from medcrypt.crypto.errors import MalformedToken
from medcrypt.crypto.keyless.epochs import MAX_EPOCH
from medcrypt.crypto.keyless.wire import (
    ASCII_WHITESPACE,
    B64_INDEX,
    MAX_TOKEN_BYTES,
    Direction,
    decode_payload,
)

VERSION = 3
PREFIX = "[MEDCRYPT:v3:"
SUFFIX = "]"
KIND_MESSAGE = 1
CHAIN_ID_LEN = 32
NONCE_LEN = 24
TAG_LEN = 16
#: version kind pairing epoch direction chain-id chain-epoch index prev-epoch prev-len nonce
_HEADER = struct.Struct(">BB16sIB32sIIII24s")
HEADER_LEN = _HEADER.size  # 95
_DEPOSIT_LEN = struct.Struct(">H")
#: A sealed v3 deposit is exactly this long (186-byte plaintext + 48 bytes of sealed box).
DEPOSIT_LEN = 234
MAX_INDEX = 0xFFFFFFFF
#: Direction by wire value, once the header check has refused anything but 0 and 1.
_DIRECTIONS = (Direction.PATIENT_TO_PHYSICIAN, Direction.PHYSICIAN_TO_PATIENT)
#: The header and the deposit section's length, read by one unpack.
_HEADER_AND_LENGTH = struct.Struct(_HEADER.format + "H")
_BODY_START = _HEADER_AND_LENGTH.size  # 97: where the deposit (if any) or the body starts
#: The shortest MESSAGE: header, an empty deposit section and a bare AEAD tag.
_MIN_LEN = _BODY_START + TAG_LEN
_NO_DEPOSIT = _DEPOSIT_LEN.pack(0)
_DEPOSIT_SECTION = _DEPOSIT_LEN.pack(DEPOSIT_LEN)
#: Longest token text: the wrapper and the unpadded base64 of MAX_TOKEN_BYTES.
_MAX_TEXT_LEN = len(PREFIX) + len(SUFFIX) + (MAX_TOKEN_BYTES * 4 + 2) // 3
_PREFIX_LEN = len(PREFIX)
#: By unpadded payload length mod 4: the ``=`` the strict decoder needs, and the bits of
#: the last character that must be zero in canonical base64 (a remainder of 1 is refused).
_PADDING = ("", "", "==", "=")
_TRAILING_BITS = (0, 0, 0x0F, 0x03)
_a2b = binascii.a2b_base64
_b2a = binascii.b2a_base64
#: ``tuple.__new__`` builds a named tuple from its fields without the Python-level
#: ``__new__`` frame the class generates (every token a companion opens builds two).
_tuple_new: Callable[..., Any] = tuple.__new__


class MessageHeader(NamedTuple):
    """Every field of a v3 MESSAGE header; all of it is AEAD associated data.

    A named tuple rather than a frozen dataclass: just as immutable, and built in a
    third of the time (a frozen dataclass sets each of its ten fields through
    ``object.__setattr__``), which every token a companion opens pays.
    """

    pairing_id: bytes
    epoch: int
    direction: Direction
    chain_id: bytes
    chain_epoch: int
    index: int  # type: ignore[assignment]  # the wire field; shadows tuple.index (unused)
    prev_epoch: int
    prev_len: int
    nonce: bytes
    raw: bytes

    @property
    def starts_chain(self) -> bool:
        """True for the first segment of a chain (the one a DH step created)."""
        return self.epoch == self.chain_epoch


class MessageToken(NamedTuple):
    """A parsed v3 MESSAGE: header, the deposit it carries (if any) and the AEAD body
    (a named tuple for the reason :class:`MessageHeader` is one)."""

    header: MessageHeader
    deposit: bytes | None
    body: memoryview

    @property
    def raw_without_deposit(self) -> bytes:
        return self.header.raw + _NO_DEPOSIT + self.body.tobytes()


@dataclass(frozen=True, slots=True)
class RelayView:
    """What the bot may use of a v3 MESSAGE (and nothing else it needs to read)."""

    pairing_id: bytes
    epoch: int
    direction: Direction
    chain_id: bytes
    starts_chain: bool
    has_deposit: bool


def encode_header(
    pairing_id: bytes, *, epoch: int, direction: Direction, chain_id: bytes, chain_epoch: int,
    index: int, prev_epoch: int, prev_len: int, nonce: bytes,
) -> bytes:
    """The 95-byte v3 MESSAGE header; refuses any field a parser would refuse."""
    if (len(pairing_id) != 16 or len(chain_id) != CHAIN_ID_LEN or len(nonce) != NONCE_LEN):
        raise MalformedToken("v3 header field has the wrong length")
    try:
        header = _HEADER.pack(VERSION, KIND_MESSAGE, pairing_id, epoch, direction, chain_id,
                              chain_epoch, index, prev_epoch, prev_len, nonce)
    except struct.error:
        raise MalformedToken("v3 header field out of range") from None
    _check_fields(epoch, direction, chain_epoch, prev_epoch, prev_len)
    return header


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
        # A month re-key segment follows an earlier segment of the same chain (or none:
        # a chain made at pairing and first used in a later month).
        raise MalformedToken("token's previous segment is out of order")
    if prev_epoch > epoch:
        raise MalformedToken("token's previous segment is out of order")


def encode_message(header: bytes, deposit: bytes | None, sealed_body: bytes) -> bytes:
    """Binary v3 MESSAGE: header, deposit section, AEAD output."""
    if deposit is None:
        raw = b"".join((header, _NO_DEPOSIT, sealed_body))
    elif len(deposit) != DEPOSIT_LEN:
        raise MalformedToken("a v3 deposit is exactly 234 bytes")
    else:
        raw = b"".join((header, _DEPOSIT_SECTION, deposit, sealed_body))
    if len(raw) > MAX_TOKEN_BYTES:
        raise MalformedToken("token is too large")
    return raw


def encode_message_text(header: bytes, deposit: bytes | None, sealed_body: bytes) -> str:
    """``encode_text(encode_message(...))``: the token text a session sends, in one call."""
    raw = encode_message(header, deposit, sealed_body)
    # base64.b64encode is this very call behind one more Python frame.
    return PREFIX + _b2a(raw, newline=False).decode("ascii").rstrip("=") + SUFFIX


def _parse(raw: bytes) -> MessageToken:
    """Header, deposit section and body of a binary v3 MESSAGE, in one pass.

    One ``unpack_from`` reads the header and the deposit length; one comparison chain
    (the same rules as :func:`_check_fields`, which names the broken one when it fails)
    checks them; the two tuples are built without a Python ``__new__`` frame.
    """
    if len(raw) < _MIN_LEN:
        raise MalformedToken("token is truncated")
    (version, kind, pairing_id, epoch, direction, chain_id, chain_epoch, index, prev_epoch,
     prev_len, nonce, length) = _HEADER_AND_LENGTH.unpack_from(raw)
    if not (version == VERSION and kind == KIND_MESSAGE and direction <= 1
            and chain_epoch <= epoch < MAX_EPOCH and prev_epoch <= epoch
            and ((epoch == chain_epoch or chain_epoch <= prev_epoch < epoch) if prev_len
                 else prev_epoch == 0)):
        # Off the hot path: name the rule that failed.
        if version != VERSION or kind != KIND_MESSAGE:
            raise MalformedToken("not a v3 message token")
        _check_fields(epoch, direction, chain_epoch, prev_epoch, prev_len)
        raise MalformedToken("token header is invalid")  # not reached: the checks agree
    header = _tuple_new(MessageHeader, (pairing_id, epoch, _DIRECTIONS[direction], chain_id,
                                        chain_epoch, index, prev_epoch, prev_len, nonce,
                                        raw[:HEADER_LEN]))
    token: MessageToken
    if not length:
        token = _tuple_new(MessageToken, (header, None, memoryview(raw)[_BODY_START:]))
        return token
    if length != DEPOSIT_LEN:
        raise MalformedToken("deposit section has an invalid length")
    if len(raw) < _MIN_LEN + DEPOSIT_LEN:
        raise MalformedToken("token is truncated")
    token = _tuple_new(MessageToken, (header, raw[_BODY_START:_BODY_START + DEPOSIT_LEN],
                                      memoryview(raw)[_BODY_START + DEPOSIT_LEN:]))
    return token


def parse_message(raw: bytes) -> MessageToken:
    """Parse a binary v3 MESSAGE (the payload of its token text)."""
    if len(raw) > MAX_TOKEN_BYTES:
        raise MalformedToken("token is too large")
    return _parse(raw if type(raw) is bytes else bytes(raw))


def encode_text(raw: bytes) -> str:
    """``[MEDCRYPT:v3:<base64 without padding>]`` (same base64 rules as v2 §3)."""
    if not raw or len(raw) > MAX_TOKEN_BYTES:
        raise MalformedToken("token is empty or too large")
    return PREFIX + _b2a(raw, newline=False).decode("ascii").rstrip("=") + SUFFIX


def _payload_of(text: str) -> str:
    """The base64 between ``[MEDCRYPT:v3:`` and ``]`` of a token text, after the text
    checks both readers make (surrounding ASCII whitespace allowed, as v2)."""
    if not isinstance(text, str):
        raise MalformedToken("token must be text")
    text = text.strip(ASCII_WHITESPACE)
    if not text.startswith(PREFIX) or not text.endswith(SUFFIX):
        raise MalformedToken("not a MEDCRYPT v3 token")
    if len(text) > _MAX_TEXT_LEN:
        raise MalformedToken("token text is too long")
    return text[_PREFIX_LEN:-1]


def decode_text(text: str) -> bytes:
    """The binary form of a v3 token text (surrounding ASCII whitespace allowed, as v2)."""
    raw = decode_payload(_payload_of(text))
    if raw[0] != VERSION:
        raise MalformedToken("token text and binary version differ")
    return raw


def parse_message_text(text: str) -> MessageToken:
    """The one strict parser of a v3 MESSAGE token text: every field, checked once.

    The same rules as ``parse_message(decode_text(text))``, in one pass (a property
    test holds it to the answers of the chain of functions it replaced, kept in
    tests/support/v3wire_reference.py): the text checks of :func:`decode_text`, the
    canonical base64 of :func:`~medcrypt.crypto.keyless.wire.decode_payload` (stdlib
    ``binascii`` in strict mode, the trailing bits checked on the last character) and
    :func:`_parse`.  Every receive pays this, so it costs one decode and one unpack.
    """
    payload = _payload_of(text)
    rest = len(payload) & 3
    if not payload or rest == 1 or "=" in payload:
        raise MalformedToken("token payload has an impossible length or padding")
    try:
        raw = _a2b(payload + _PADDING[rest], strict_mode=True)
    except (binascii.Error, ValueError):
        raise MalformedToken("token payload is not base64") from None
    if rest and B64_INDEX[payload[-1]] & _TRAILING_BITS[rest]:
        raise MalformedToken("token payload is not canonical base64")
    return _parse(raw)


def relay_view(token: MessageToken) -> RelayView:
    """The fields the bot routes and stores by; the counters it does not need stay unused."""
    h = token.header
    return RelayView(h.pairing_id, h.epoch, h.direction, h.chain_id, h.starts_chain,
                     token.deposit is not None)


def strip_deposit(text: str) -> tuple[str, RelayView, bytes | None]:
    """Bot side: the token text to relay (no deposit), its routing view, and the deposit.

    The deposit is a sealed box the bot cannot open; it stores it under
    (pairing, epoch, direction, chain id) and never relays it (§23.3).
    """
    token = parse_message_text(text)
    view = relay_view(token)
    if token.deposit is None:
        return text.strip(ASCII_WHITESPACE), view, None
    return encode_text(token.raw_without_deposit), view, token.deposit
