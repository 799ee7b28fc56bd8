"""Envelope encryption of backup files: a random data key per backup, wrapped by the keyring.

Why an envelope: a database dump is large and must stream, while the server keyring is
built for short values and rotates. A fresh 32-byte data key encrypts the dump with
libsodium's secretstream (XChaCha20-Poly1305 in authenticated chunks, the last one
tagged FINAL, so a truncated or reordered file fails); only that key is wrapped by the
keyring (:class:`KeyWrapper`, the seam a key provider replaces). Rotating the server
keys therefore never rewrites old backups - it only needs the old version kept for as
long as backups under it are retained (docs/OPERATIONS.md).

File layout (integers big-endian)::

    MAGIC | header_len u32 | header (canonical JSON) | wrapped_len u16 | wrapped key
          | stream header 24 | ( chunk_len u32 | chunk ciphertext )*  (last chunk FINAL)

The header is public - it must be readable to choose the engine and report what a
backup holds without a key - so it carries no personal data: format, creation time,
dialect, schema revision and the audit head. It is authenticated twice: the wrapped
key is bound to its SHA-256, and every chunk carries it as associated data, so a header
edited or moved to another file fails as :class:`DecryptionFailed`.

Pure: bytes and file objects in and out, randomness injected.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import BinaryIO, Protocol

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.errors import DecryptionFailed, MalformedToken

MAGIC = b"MEDCRYPT-BACKUP\x00v1\x00"
CHUNK_BYTES = 64 * 1024
MAX_HEADER_BYTES = 16 * 1024
_WRAP_CONTEXT = "backup"

HeaderValue = str | int | None
Header = Mapping[str, HeaderValue]


class KeyWrapper(Protocol):
    """Wraps and unwraps a data key bound to a context; the server keyring implements it,
    and so will an external key provider (issue 17)."""

    def wrap_key(self, data_key: bytes | bytearray, context: Sequence[str | bytes | int]
                 ) -> bytes: ...

    def unwrap_key(self, wrapped: bytes, context: Sequence[str | bytes | int]
                   ) -> bytearray: ...


def encode_header(header: Header) -> bytes:
    """Canonical JSON of flat small values; the order of keys never changes the bytes."""
    for key, value in header.items():
        if not isinstance(key, str) or not (value is None or isinstance(value, str | int)):
            raise TypeError("backup header values are str, int or None")
    data = json.dumps(dict(header), sort_keys=True, separators=(",", ":")).encode("ascii")
    if len(data) > MAX_HEADER_BYTES:
        raise ValueError("backup header too long")
    return data


def _context(header_bytes: bytes) -> tuple[str, bytes]:
    return (_WRAP_CONTEXT, prim.sha256(header_bytes))


def seal_stream(wrapper: KeyWrapper, header: Header, src: BinaryIO, dst: BinaryIO, *,
                rng: Callable[[int], bytes] = os.urandom) -> int:
    """Encrypt ``src`` into ``dst`` under a fresh data key; returns plaintext bytes read."""
    header_bytes = encode_header(header)
    data_key = bytearray(rng(prim.KEY_LEN))
    try:
        wrapped = wrapper.wrap_key(data_key, _context(header_bytes))
        stream_header = rng(prim.STREAM_HEADER_LEN)
        push = prim.SecretStreamPush(data_key, stream_header)
    finally:
        prim.wipe(data_key)
    dst.write(MAGIC + struct.pack(">I", len(header_bytes)) + header_bytes
              + struct.pack(">H", len(wrapped)) + wrapped + stream_header)
    ad = prim.sha256(header_bytes)
    total = 0
    chunk = src.read(CHUNK_BYTES)
    while True:
        following = src.read(CHUNK_BYTES) if chunk else b""
        tag = prim.STREAM_TAG_FINAL if not following else prim.STREAM_TAG_MESSAGE
        block = push.push(chunk, ad, tag)
        dst.write(struct.pack(">I", len(block)) + block)
        total += len(chunk)
        if not following:
            return total
        chunk = following


def _read_exact(src: BinaryIO, n: int, what: str) -> bytes:
    data = src.read(n)
    if len(data) != n:
        raise MalformedToken(f"backup file truncated in the {what}")
    return data


def read_header(src: BinaryIO) -> tuple[dict[str, HeaderValue], bytes]:
    """The public header (unauthenticated until the stream opens) and its raw bytes."""
    if _read_exact(src, len(MAGIC), "magic") != MAGIC:
        raise MalformedToken("not a MedCrypt backup file (magic)")
    (length,) = struct.unpack(">I", _read_exact(src, 4, "header length"))
    if length > MAX_HEADER_BYTES:
        raise MalformedToken("backup header too long")
    raw = _read_exact(src, length, "header")
    try:
        header = json.loads(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise MalformedToken("backup header is not JSON") from None
    if not isinstance(header, dict) or encode_header(header) != raw:
        raise MalformedToken("backup header is not canonical")
    return header, raw


def open_stream(wrapper: KeyWrapper, src: BinaryIO, dst: BinaryIO | None
                ) -> dict[str, HeaderValue]:
    """Authenticate and decrypt ``src`` into ``dst`` (None: authenticate only).

    Every failure to authenticate - a changed byte anywhere, a swapped header, a
    missing FINAL chunk, bytes after it - is :class:`DecryptionFailed`; plaintext
    already written to ``dst`` must then be discarded by the caller.
    """
    header, raw = read_header(src)
    (wrapped_len,) = struct.unpack(">H", _read_exact(src, 2, "wrapped key length"))
    wrapped = _read_exact(src, wrapped_len, "wrapped key")
    stream_header = _read_exact(src, prim.STREAM_HEADER_LEN, "stream header")
    data_key = wrapper.unwrap_key(wrapped, _context(raw))
    try:
        pull = prim.SecretStreamPull(data_key, stream_header)
    finally:
        prim.wipe(data_key)
    ad = prim.sha256(raw)
    while True:
        length_bytes = src.read(4)
        if len(length_bytes) != 4:
            raise DecryptionFailed  # ended before the FINAL chunk: truncated
        (length,) = struct.unpack(">I", length_bytes)
        if length > CHUNK_BYTES + prim.STREAM_ABYTES:
            raise DecryptionFailed
        plaintext, tag = pull.pull(_read_chunk(src, length), ad)
        if dst is not None:
            dst.write(plaintext)
        if tag == prim.STREAM_TAG_FINAL:
            break
    if src.read(1):
        raise DecryptionFailed  # bytes after the FINAL chunk
    return header


def _read_chunk(src: BinaryIO, length: int) -> bytes:
    data = src.read(length)
    if len(data) != length:
        raise DecryptionFailed
    return data
