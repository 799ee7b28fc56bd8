"""Envelope encryption of backup files: a random data key per backup, wrapped by the
key provider (format 2) or, with ``env``, by the server keyring (format 1).

Why an envelope: a database dump is large and must stream, while a key provider or the
keyring is built for short values and rotates. A fresh 32-byte data key encrypts the
dump with libsodium's secretstream (XChaCha20-Poly1305 in authenticated chunks, the last
one tagged FINAL, so a truncated or reordered file fails); only that key is wrapped.

* **Format 2** (a provider other than ``env`` is configured; docs/adr/0041): the data
  key is wrapped by the provider's current root version - one provider call to make a
  backup, one to open it, each in the provider's own audit log - bound to the context
  ``{"purpose": "backup", "backup_id": "id:<32 hex>"}``. The header names the provider, the
  root version and the backup id, so an operator sees what a file needs without a key.
  It cannot be a DEK of the key tree: the ``deks`` rows it would need are inside the
  backup it opens. Destroying that root version (the shred-epoch close) makes the file
  unopenable, which is the point: the backup's rows are past their restore window then.
* **Format 1** (``env``, and every backup made before format 2): the keyring's
  ``wrap_key`` under the context ``("backup", sha256(header))``. Still read whatever
  provider is configured, as long as the keyring version that wrapped it is listed.

File layout (integers big-endian)::

    MAGIC | header_len u32 | header (canonical JSON) | wrapped_len u16 | wrapped key
          | stream header 24 | ( chunk_len u32 | chunk ciphertext )*  (last chunk FINAL)

The header is public - it must be readable to choose the engine and report what a
backup holds without a key - so it carries no personal data: format, creation time,
dialect, schema revision and the audit head. It is authenticated twice: the wrapped
key is bound to it (format 1: its SHA-256; format 2: the backup id, which only that
header holds), and every chunk carries its SHA-256 as associated data, so a header
edited or moved to another file fails as :class:`DecryptionFailed`.

Pure: bytes and file objects in and out, randomness injected.
"""

from __future__ import annotations

import json
import os
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import BinaryIO, Protocol

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.errors import ConfigError, DecryptionFailed, MalformedToken
from medcrypt.crypto.server.provider import KeyProvider, wrapped_version

MAGIC = b"MEDCRYPT-BACKUP\x00v1\x00"
CHUNK_BYTES = 64 * 1024
MAX_HEADER_BYTES = 16 * 1024
_WRAP_CONTEXT = "backup"
#: Header ``format`` of a data key wrapped by the keyring / by a key provider.
KEYRING_FORMAT, PROVIDER_FORMAT = 1, 2
BACKUP_ID_BYTES = 16
_BACKUP_ID = re.compile(r"[0-9a-f]{32}\Z")
_PROVIDER_NAME = re.compile(r"[a-z0-9]{1,16}\Z")

HeaderValue = str | int | None
Header = Mapping[str, HeaderValue]


class KeyWrapper(Protocol):
    """Wraps and unwraps a data key bound to a context: the server keyring (format 1).
    A key provider goes through :class:`ProviderWrap` instead (format 2)."""

    def wrap_key(self, data_key: bytes | bytearray, context: Sequence[str | bytes | int]
                 ) -> bytes: ...

    def unwrap_key(self, wrapped: bytes, context: Sequence[str | bytes | int]
                   ) -> bytearray: ...


class ProviderWrap:
    """Marks that new backups' data keys go to ``provider`` (format 2), not the keyring."""

    def __init__(self, provider: KeyProvider) -> None:
        self.provider = provider


def provider_context(backup_id: str) -> dict[str, str]:
    """The provider context of a backup's data key: purpose and the random backup id -
    no personal data, since AWS KMS logs the context in clear (that log line is also
    the audit trail of who opened which backup)."""
    if not isinstance(backup_id, str) or not _BACKUP_ID.match(backup_id):
        raise MalformedToken("backup header has no valid backup id")
    # Prefixed: an id of hex digits only would look like a phone number to the context
    # check (which refuses those outright), and any id must stay wrappable.
    return {"purpose": _WRAP_CONTEXT, "backup_id": f"id:{backup_id}"}


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


def _wrap(wrapper: KeyWrapper | ProviderWrap, header: Header, data_key: bytearray,
          rng: Callable[[int], bytes]) -> tuple[bytes, bytes]:
    """(header bytes, wrapped data key); the header gains the wrapping's fields."""
    if isinstance(wrapper, ProviderWrap):
        backup_id = rng(BACKUP_ID_BYTES).hex()
        wrapped = wrapper.provider.wrap(data_key, provider_context(backup_id))
        header_bytes = encode_header({
            **header, "format": PROVIDER_FORMAT, "backup_id": backup_id,
            "key_provider": wrapper.provider.name, "key_version": wrapped_version(wrapped)})
        return header_bytes, wrapped
    header_bytes = encode_header({**header, "format": KEYRING_FORMAT})
    return header_bytes, wrapper.wrap_key(data_key, _context(header_bytes))


def seal_stream(wrapper: KeyWrapper | ProviderWrap, header: Header, src: BinaryIO,
                dst: BinaryIO, *, rng: Callable[[int], bytes] = os.urandom) -> int:
    """Encrypt ``src`` into ``dst`` under a fresh data key; returns plaintext bytes read.

    ``wrapper`` is the keyring (format 1) or a :class:`ProviderWrap` (format 2); the
    header's ``format`` (and, for format 2, ``backup_id``, ``key_provider`` and
    ``key_version``) are set here.
    """
    data_key = bytearray(rng(prim.KEY_LEN))
    try:
        header_bytes, wrapped = _wrap(wrapper, header, data_key, rng)
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
    try:
        canonical = isinstance(header, dict) and encode_header(header) == raw
    except (TypeError, ValueError):  # nested or float values: not a header we write
        canonical = False
    if not canonical:
        raise MalformedToken("backup header is not canonical")
    return header, raw


def read_wrapped(src: BinaryIO) -> bytes:
    """The wrapped data key, read right after :func:`read_header`."""
    (wrapped_len,) = struct.unpack(">H", _read_exact(src, 2, "wrapped key length"))
    return _read_exact(src, wrapped_len, "wrapped key")


def _unwrap(wrapper: KeyWrapper, provider: KeyProvider | None,
            header: Mapping[str, HeaderValue], raw: bytes, wrapped: bytes) -> bytearray:
    if header.get("format") != PROVIDER_FORMAT:
        return wrapper.unwrap_key(wrapped, _context(raw))
    name, version = header.get("key_provider"), header.get("key_version")
    if not isinstance(name, str) or not _PROVIDER_NAME.match(name) \
            or not isinstance(version, int) or version != wrapped_version(wrapped):
        raise MalformedToken("backup header names no valid key provider and version")
    context = provider_context(str(header.get("backup_id")))
    if provider is None or provider.name != name:
        raise ConfigError("keys.provider", f"this backup's data key is wrapped by the {name} "
                          f"provider (root version {version}); configure that provider "
                          "to open it - the server keyring cannot")
    return provider.unwrap(wrapped, context)


def open_stream(wrapper: KeyWrapper, src: BinaryIO, dst: BinaryIO | None, *,
                provider: KeyProvider | None = None) -> dict[str, HeaderValue]:
    """Authenticate and decrypt ``src`` into ``dst`` (None: authenticate only).

    A format-2 file's data key is unwrapped by ``provider`` (one call, which the
    provider audits); it must be the provider the header names, else
    :class:`ConfigError`. A destroyed root version is :class:`KeyVersionMissing`.
    Every failure to authenticate - a changed byte anywhere, a swapped header, a
    missing FINAL chunk, bytes after it - is :class:`DecryptionFailed`; plaintext
    already written to ``dst`` must then be discarded by the caller.
    """
    header, raw = read_header(src)
    wrapped = read_wrapped(src)
    stream_header = _read_exact(src, prim.STREAM_HEADER_LEN, "stream header")
    data_key = _unwrap(wrapper, provider, header, raw, wrapped)
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
