"""Keyless token and file-header codec of MEDCRYPT v2 (the bot imports this module).

Everything here is public information: the text wrapper, the fixed binary headers that
route a token (pairing id, epoch, direction, message index) and the header of an
encrypted file.  Nothing here touches a key, so a relay that can only import this module
cannot open a message.  The byte layouts are specified in docs/PROTOCOL.md.

Parsing is strict, because a lenient parser is an oracle and a malleability source:
the base64 must be canonical (no padding, zero trailing bits), every length is exact or
bounded, and anything unexpected raises :class:`crypto.errors.MalformedToken` - never a
``ValueError`` or ``binascii.Error``.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from dataclasses import dataclass
from enum import IntEnum

from medcrypt.crypto.errors import MalformedToken
from medcrypt.crypto.keyless.epochs import MAX_EPOCH
from medcrypt.crypto.keyless.pairing_wire import VERSION_3, PairingV3, parse_v3_pairing
from medcrypt.crypto.keyless.upgrade_wire import Upgrade, parse_upgrade

VERSION = 2
PREFIX = "[MEDCRYPT:v2:"
PREFIX_V3 = "[MEDCRYPT:v3:"
_PREFIXES = {VERSION: PREFIX, VERSION_3: PREFIX_V3}
SUFFIX = "]"
#: Characters a token text adds around its payload.
WRAPPER_CHARS = len(PREFIX) + len(SUFFIX)
#: Largest binary token accepted (a 1 MiB body padded, plus envelope and header).
MAX_TOKEN_BYTES = 2 * 1024 * 1024
#: Largest token text accepted (the base64 form of MAX_TOKEN_BYTES plus the wrapper).
MAX_TOKEN_CHARS = WRAPPER_CHARS + (MAX_TOKEN_BYTES * 4 + 2) // 3

PAIRING_ID_LEN = 16
NONCE_LEN = 24
TAG_LEN = 16
GROUP_ID_LEN = 16
FILE_ID_LEN = 16

#: The only characters ``parse_token`` strips around a token (PROTOCOL §3): ASCII
#: whitespace. Not ``str.strip()``'s Unicode set, which differs from JavaScript's trim.
ASCII_WHITESPACE = " \t\n\v\f\r"
#: Finds tokens inside arbitrary chat text; group 1 is the payload.
TOKEN_RE = re.compile(r"\[MEDCRYPT:v[23]:([A-Za-z0-9+/]+)\]")

_MSG_HEADER = struct.Struct(">BB16sIBI24s")  # version kind pairing epoch direction index nonce
MESSAGE_HEADER_LEN = _MSG_HEADER.size  # 51
_REG_HEADER = struct.Struct(">BB16sI")  # version kind pairing start-epoch
_REG_BODY = struct.Struct(">BHQ")  # method grace_days expires_at (unix seconds)
_ACC_HEADER = struct.Struct(">BB16s")  # version kind pairing
PART_HEADER = struct.Struct(">BB16sHH")  # version kind group index count
PART_HEADER_LEN = PART_HEADER.size  # 22
_FILE_HEADER = struct.Struct(">4sB16sIB16s")
#: Unpadded container (read only): the length gives the exact file size.
FILE_MAGIC = b"MCF2"
FILE_VERSION_UNPADDED = 2
#: Padded container, what writers write: the length gives only the size's bucket (ADR 0022).
FILE_MAGIC_PADDED = b"MCF3"
FILE_VERSION_PADDED = 3
#: The (magic, version) pairs a file header may carry; any other pair is malformed.
FILE_FORMATS = {FILE_VERSION_UNPADDED: FILE_MAGIC, FILE_VERSION_PADDED: FILE_MAGIC_PADDED}
FILE_HEADER_LEN = _FILE_HEADER.size  # 42

#: An ESCROW_DEPOSIT is fixed-size: header 51 + sealed box of header, key and two
#: identity keys (147 + 48). Any other length is malformed (PROTOCOL §7).
DEPOSIT_TOKEN_LEN = MESSAGE_HEADER_LEN + 48 + MESSAGE_HEADER_LEN + 3 * 32  # 246
#: Pairing method byte in PAIR_REGISTER / PAIR_ACCEPT bodies (a seam for PAKE later).
METHOD_QR_OFFER = 1
#: PAIR_ACCEPT body for METHOD_QR_OFFER: method | X25519 pub | Ed25519 pub | HMAC-SHA256.
ACCEPT_BODY_LEN = 1 + 32 + 32 + 32


class Kind(IntEnum):
    """What a token is; byte 1 of every binary token."""

    MESSAGE = 1
    PAIR_REGISTER = 2
    PAIR_ACCEPT = 3
    ESCROW_DEPOSIT = 4
    PART = 5
    #: v3 only: the physician's signed, content-free key confirmation (PROTOCOL §31.3).
    KEY_CONFIRM = 6
    #: v3 only: the v2 -> v3 upgrade offer and answer (PROTOCOL §35).
    UPGRADE = 7
    #: v3 only: the pinned-key record sealed to the escrow key (PROTOCOL §34.3).
    PIN_RECORD = 8


class Direction(IntEnum):
    """Which way a message travels; selects the chain key, so reflection fails."""

    PATIENT_TO_PHYSICIAN = 0
    PHYSICIAN_TO_PATIENT = 1


@dataclass(frozen=True, slots=True)
class TokenHeader:
    """The routing information any party (the bot included) may read without a key."""

    version: int
    kind: Kind
    pairing_id: bytes | None
    epoch: int | None
    direction: Direction | None
    index: int | None


@dataclass(frozen=True, slots=True)
class PartInfo:
    """Where a PART token's chunk belongs."""

    group_id: bytes
    index: int
    count: int
    chunk: bytes


@dataclass(frozen=True, slots=True)
class RegisterInfo:
    """Public pairing policy from a PAIR_REGISTER token (what the bot may store)."""

    method: int
    grace_days: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class Token:
    """A parsed token: its header, its complete binary form and the kind-specific parts."""

    header: TokenHeader
    raw: bytes
    part: PartInfo | None = None
    register: RegisterInfo | None = None
    #: v3 PAIR_REGISTER / PAIR_ACCEPT / KEY_CONFIRM fields (crypto.keyless.pairing_wire).
    pairing3: PairingV3 | None = None
    #: v3 UPGRADE_OFFER / UPGRADE_ANSWER fields (crypto.keyless.upgrade_wire).
    upgrade: Upgrade | None = None

    @property
    def header_bytes(self) -> bytes:
        """The bytes used as associated data (MESSAGE / ESCROW_DEPOSIT)."""
        return self.raw[:MESSAGE_HEADER_LEN]

    @property
    def nonce(self) -> bytes:
        """The 24-byte nonce of a MESSAGE / ESCROW_DEPOSIT token."""
        return self.raw[MESSAGE_HEADER_LEN - NONCE_LEN:MESSAGE_HEADER_LEN]

    @property
    def body(self) -> bytes:
        """Everything after the fixed header of this kind."""
        return self.raw[_header_len(self.header.kind):]


@dataclass(frozen=True, slots=True)
class FileHeader:
    """The routing header of an encrypted file (the rest is a secretstream)."""

    version: int
    pairing_id: bytes
    epoch: int
    direction: Direction
    file_id: bytes
    raw: bytes


def _header_len(kind: Kind) -> int:
    return {
        Kind.MESSAGE: MESSAGE_HEADER_LEN,
        Kind.ESCROW_DEPOSIT: MESSAGE_HEADER_LEN,
        Kind.PAIR_REGISTER: _REG_HEADER.size,
        Kind.PAIR_ACCEPT: _ACC_HEADER.size,
        Kind.PART: PART_HEADER_LEN,
        Kind.KEY_CONFIRM: _ACC_HEADER.size,
        Kind.UPGRADE: _ACC_HEADER.size,
        Kind.PIN_RECORD: _ACC_HEADER.size,
    }[kind]


# --------------------------------------------------------------------------- text form


def encode_token(raw: bytes) -> str:
    """Wrap a binary token as ``[MEDCRYPT:v3:...]`` when byte 0 is 3, else as
    ``[MEDCRYPT:v2:<base64 without padding>]`` (whose parser then checks the version)."""
    if not raw or len(raw) > MAX_TOKEN_BYTES:
        raise MalformedToken("token is empty or too large")
    prefix = PREFIX_V3 if raw[0] == VERSION_3 else PREFIX
    return prefix + base64.b64encode(raw).decode("ascii").rstrip("=") + SUFFIX


_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
#: Value of each base64 character (the canonical check reads the last one; v3wire too).
B64_INDEX = {c: i for i, c in enumerate(_B64_ALPHABET)}


def decode_payload(payload: str) -> bytes:
    """Strict, canonical base64 without padding -> bytes.

    The alphabet is enforced by the strict decoder (``validate=True`` rejects every
    non-alphabet character, whitespace included); canonicity - zero trailing bits in the
    last character, so every token has exactly one text form - is checked on that one
    character instead of re-encoding (which would double the cost for a 1 MiB token).
    """
    if not payload or len(payload) % 4 == 1 or "=" in payload:
        raise MalformedToken("token payload has an impossible length or padding")
    try:
        # base64.b64decode(..., validate=True) is this call behind two Python frames.
        raw = binascii.a2b_base64(payload + "=" * (-len(payload) % 4), strict_mode=True)
    except (binascii.Error, ValueError):
        raise MalformedToken("token payload is not base64") from None
    rest = len(payload) % 4
    if rest and B64_INDEX[payload[-1]] & (0x0F if rest == 2 else 0x03):
        raise MalformedToken("token payload is not canonical base64")
    return raw


def find_tokens(text: str) -> list[str]:
    """Every complete token text inside ``text``, in order of appearance."""
    return [m.group(0) for m in TOKEN_RE.finditer(text)]


def parse_token(text: str) -> Token:
    """Parse one token text (surrounding ASCII whitespace allowed) into header and raw bytes."""
    if not isinstance(text, str):
        raise MalformedToken("token must be text")
    text = text.strip(ASCII_WHITESPACE)
    if len(text) > MAX_TOKEN_CHARS:
        raise MalformedToken("token text is too long")
    version = VERSION_3 if text.startswith(PREFIX_V3) else VERSION
    if not text.startswith(_PREFIXES[version]) or not text.endswith(SUFFIX):
        raise MalformedToken("not a MEDCRYPT v2 or v3 token")
    raw = decode_payload(text[len(PREFIX):-len(SUFFIX)])
    if raw[0] != version:
        raise MalformedToken("token text and binary version differ")
    return parse_raw(raw)


def parse_raw(raw: bytes) -> Token:
    """Parse a binary token (the payload of a token text)."""
    if len(raw) < 2:
        raise MalformedToken("token is truncated")
    if len(raw) > MAX_TOKEN_BYTES:
        raise MalformedToken("token is too large")
    if raw[0] == VERSION_3:
        return _parse_v3(raw)
    if raw[0] != VERSION:
        raise MalformedToken("unsupported token version")
    try:
        kind = Kind(raw[1])
    except ValueError:
        raise MalformedToken("unknown token kind") from None
    if kind in (Kind.KEY_CONFIRM, Kind.UPGRADE, Kind.PIN_RECORD):
        raise MalformedToken("unknown token kind")  # v3-only kinds
    if kind in (Kind.MESSAGE, Kind.ESCROW_DEPOSIT):
        return _parse_sealed(kind, raw)
    if kind is Kind.PAIR_REGISTER:
        return _parse_register(raw)
    if kind is Kind.PAIR_ACCEPT:
        return _parse_accept(raw)
    return _parse_part(raw)


_V3_PAIRING_KINDS = {Kind.PAIR_REGISTER, Kind.PAIR_ACCEPT, Kind.KEY_CONFIRM}


def _parse_v3(raw: bytes) -> Token:
    """v3 MESSAGE (its own codec, crypto/keyless/v3wire.py), v3 PART (v2's layout), the
    v3 pairing kinds (PROTOCOL §31, crypto/keyless/pairing_wire.py) and PIN_RECORD
    (§34.3, crypto/keyless/record_wire.py)."""
    if raw[1] == Kind.PART:
        token = _parse_part(raw)
        return Token(TokenHeader(VERSION_3, Kind.PART, None, None, None, None), raw,
                     part=token.part)
    if raw[1] in _V3_PAIRING_KINDS:
        info = parse_v3_pairing(raw)
        epoch = getattr(info, "start_epoch", None)
        header = TokenHeader(VERSION_3, Kind(raw[1]), info.pairing_id, epoch, None, None)
        return Token(header, raw, pairing3=info)
    if raw[1] == Kind.UPGRADE:
        upgrade = parse_upgrade(raw)
        epoch = getattr(upgrade, "start_epoch", None)
        header = TokenHeader(VERSION_3, Kind.UPGRADE, upgrade.pairing_id, epoch, None, None)
        return Token(header, raw, upgrade=upgrade)
    if raw[1] == Kind.PIN_RECORD:
        from medcrypt.crypto.keyless.record_wire import parse_record_token

        record = parse_record_token(raw)
        return Token(TokenHeader(VERSION_3, Kind.PIN_RECORD, record.pairing_id, None, None,
                                 None), raw)
    if raw[1] != Kind.MESSAGE:
        raise MalformedToken("unknown v3 token kind")
    from medcrypt.crypto.keyless import v3wire  # v3wire builds on this module

    h = v3wire.parse_message(raw).header
    return Token(TokenHeader(VERSION_3, Kind.MESSAGE, h.pairing_id, h.epoch, h.direction,
                             h.index), raw)


def _parse_sealed(kind: Kind, raw: bytes) -> Token:
    if len(raw) < MESSAGE_HEADER_LEN + TAG_LEN:
        raise MalformedToken("token is truncated")
    if kind is Kind.ESCROW_DEPOSIT and len(raw) != DEPOSIT_TOKEN_LEN:
        raise MalformedToken("escrow deposit has the wrong length")
    _v, _k, pairing_id, epoch, direction, index, _nonce = _MSG_HEADER.unpack_from(raw)
    if epoch >= MAX_EPOCH:
        raise MalformedToken("token epoch is outside the supported calendar")
    if direction not in (0, 1):
        raise MalformedToken("token direction is invalid")
    header = TokenHeader(VERSION, kind, pairing_id, epoch, Direction(direction), index)
    return Token(header, raw)


def _parse_register(raw: bytes) -> Token:
    if len(raw) != _REG_HEADER.size + _REG_BODY.size:
        raise MalformedToken("registration token has the wrong length")
    _v, _k, pairing_id, epoch = _REG_HEADER.unpack_from(raw)
    method, grace_days, expires_at = _REG_BODY.unpack_from(raw, _REG_HEADER.size)
    if epoch >= MAX_EPOCH or method != METHOD_QR_OFFER:
        raise MalformedToken("registration token has an invalid field")
    header = TokenHeader(VERSION, Kind.PAIR_REGISTER, pairing_id, epoch, None, None)
    return Token(header, raw, register=RegisterInfo(method, grace_days, expires_at))


def _parse_accept(raw: bytes) -> Token:
    if len(raw) != _ACC_HEADER.size + ACCEPT_BODY_LEN:
        raise MalformedToken("accept token has the wrong length")
    if raw[_ACC_HEADER.size] != METHOD_QR_OFFER:
        raise MalformedToken("accept token names an unknown pairing method")
    _v, _k, pairing_id = _ACC_HEADER.unpack_from(raw)
    return Token(TokenHeader(VERSION, Kind.PAIR_ACCEPT, pairing_id, None, None, None), raw)


def _parse_part(raw: bytes) -> Token:
    if len(raw) <= PART_HEADER_LEN:
        raise MalformedToken("part token is truncated")
    _v, _k, group_id, index, count = PART_HEADER.unpack_from(raw)
    if count < 2 or index >= count:
        raise MalformedToken("part token has an invalid index or count")
    part = PartInfo(group_id, index, count, raw[PART_HEADER_LEN:])
    return Token(TokenHeader(VERSION, Kind.PART, None, None, None, None), raw, part=part)


# --------------------------------------------------------------------------- builders


def _check_id(value: bytes, length: int, what: str) -> None:
    if len(value) != length:
        raise MalformedToken(f"{what} must be {length} bytes")


def encode_sealed_header(
    kind: Kind, pairing_id: bytes, *, epoch: int, direction: Direction, index: int, nonce: bytes,
) -> bytes:
    """The 51-byte header of a MESSAGE or ESCROW_DEPOSIT token (the AEAD's associated data)."""
    if kind not in (Kind.MESSAGE, Kind.ESCROW_DEPOSIT):
        raise MalformedToken("only MESSAGE and ESCROW_DEPOSIT tokens carry this header")
    _check_id(pairing_id, PAIRING_ID_LEN, "pairing id")
    _check_id(nonce, NONCE_LEN, "nonce")
    if not 0 <= epoch < MAX_EPOCH or not 0 <= index <= 0xFFFFFFFF:
        raise MalformedToken("epoch or index out of range")
    return _MSG_HEADER.pack(VERSION, kind, pairing_id, epoch, direction, index, nonce)


def encode_register(pairing_id: bytes, start_epoch: int, grace_days: int, expires_at: int) -> bytes:
    """Binary PAIR_REGISTER token: public data only (no key, no secret, no identity)."""
    _check_id(pairing_id, PAIRING_ID_LEN, "pairing id")
    if not 0 <= start_epoch < MAX_EPOCH or not 0 <= grace_days <= 0xFFFF or expires_at < 0:
        raise MalformedToken("registration field out of range")
    return _REG_HEADER.pack(VERSION, Kind.PAIR_REGISTER, pairing_id, start_epoch) + _REG_BODY.pack(
        METHOD_QR_OFFER, grace_days, expires_at)


def encode_accept(pairing_id: bytes, body: bytes) -> bytes:
    """Binary PAIR_ACCEPT token from its method-specific body."""
    _check_id(pairing_id, PAIRING_ID_LEN, "pairing id")
    _check_id(body, ACCEPT_BODY_LEN, "accept body")
    return _ACC_HEADER.pack(VERSION, Kind.PAIR_ACCEPT, pairing_id) + body


def encode_part(
    group_id: bytes, index: int, count: int, chunk: bytes, *, version: int = VERSION,
) -> bytes:
    """Binary PART token carrying ``chunk`` of another token's binary form (a v3 token's
    parts carry version 3)."""
    _check_id(group_id, GROUP_ID_LEN, "group id")
    if not 0 <= index < count <= 0xFFFF or count < 2 or not chunk:
        raise MalformedToken("part index, count or chunk out of range")
    if version not in _PREFIXES:
        raise MalformedToken("unsupported token version")
    return PART_HEADER.pack(version, Kind.PART, group_id, index, count) + chunk


# --------------------------------------------------------------------------- files


def encode_file_header(
    pairing_id: bytes, epoch: int, direction: Direction, file_id: bytes, *,
    version: int = FILE_VERSION_PADDED,
) -> bytes:
    """The 42-byte routing header of an encrypted file (associated data of its stream).

    ``version`` 3 (``MCF3``, padded) is what writers write; 2 (``MCF2``) exists so tests
    and vectors can build the containers older companions wrote, which readers still open.
    """
    _check_id(pairing_id, PAIRING_ID_LEN, "pairing id")
    _check_id(file_id, FILE_ID_LEN, "file id")
    if not 0 <= epoch < MAX_EPOCH:
        raise MalformedToken("epoch out of range")
    if version not in FILE_FORMATS:
        raise MalformedToken("unsupported encrypted file version")
    return _FILE_HEADER.pack(FILE_FORMATS[version], version, pairing_id, epoch, direction,
                             file_id)


def parse_file_header(data: bytes) -> FileHeader:
    """Read the routing header at the start of an encrypted file, without any key.

    Accepts exactly ``MCF2``/2 and ``MCF3``/3: a magic with the other format's version
    byte is malformed, so one header has one meaning.
    """
    if len(data) < FILE_HEADER_LEN:
        raise MalformedToken("encrypted file is truncated")
    magic, version, pairing_id, epoch, direction, file_id = _FILE_HEADER.unpack_from(data)
    if magic not in (FILE_MAGIC, FILE_MAGIC_PADDED):
        raise MalformedToken("not a MEDCRYPT encrypted file")
    if FILE_FORMATS.get(version) != magic:
        raise MalformedToken("unsupported encrypted file version")
    if epoch >= MAX_EPOCH or direction not in (0, 1):
        raise MalformedToken("encrypted file header has an invalid field")
    return FileHeader(version, pairing_id, epoch, Direction(direction), file_id,
                      bytes(data[:FILE_HEADER_LEN]))
