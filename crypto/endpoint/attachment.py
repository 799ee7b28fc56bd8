"""Encrypted attachments: a random key per file, libsodium secretstream, flat memory.

Why this construction (DESIGN §3.3): lab results, images and PDFs are too large for a
token, and reading a 200 MB file into memory on a phone-class device is not acceptable.
libsodium's ``crypto_secretstream_xchacha20poly1305`` encrypts a stream as a sequence of
chunks whose nonces are chained inside the state, so reordering, dropping or duplicating
a chunk fails authentication, and the ``TAG_FINAL`` tag on the last chunk makes
truncation detectable. We only ever hold one 64 KiB chunk (plus one of look-ahead).

Container layout (byte-exact in docs/PROTOCOL.md §14)::

    file header (42 B, keyless, crypto.keyless.wire.encode_file_header)   - the bot routes by it
    secretstream header (24 B)
    chunk_0 .. chunk_n   each = secretstream_push(stream[64 KiB], tag) (+17 B)

Writers write ``MCF3``: the stream is the file followed by zeros up to the envelope's
bucket of its size, so the container's length reveals the bucket and not the size
(ADR 0022). Readers also open ``MCF2``, where the stream is the file itself.

The file header is the associated data of chunk 0, so a relay cannot re-label a file
for another pairing, epoch, direction, file id or format. Every chunk except the last
holds exactly ``CHUNK_SIZE`` stream bytes and carries ``TAG_MESSAGE``; the last holds
1..CHUNK_SIZE bytes (``MCF2``: 0.. for an empty file) and carries ``TAG_FINAL``.

The key, size, SHA-256 and name travel in a :class:`Manifest` inside an
ordinary end-to-end encrypted message (content type ATTACHMENT_MANIFEST); the container
alone is useless to anyone who did not receive that message.

Deterministic vectors: the 24-byte stream header is drawn from the injected ``rng`` and
the push state is built from it (:class:`crypto._primitives.SecretStreamPush` explains
why that is byte-identical to libsodium's ``init_push``); the vectors prove the result
decrypts with stock libsodium.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import struct
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint.envelope import bucket_size
from medcrypt.crypto.errors import DecryptionFailed, LimitExceeded, MalformedToken, WrongPairing
from medcrypt.crypto.keyless.wire import (
    FILE_HEADER_LEN,
    FILE_ID_LEN,
    FILE_VERSION_PADDED,
    Direction,
    FileHeader,
    encode_file_header,
    parse_file_header,
)

#: Plaintext bytes per secretstream chunk (all chunks but the last are exactly this).
CHUNK_SIZE = 64 * 1024
#: libsodium secretstream header length.
STREAM_HEADER_LEN = prim.STREAM_HEADER_LEN
#: Per-chunk expansion: 1 encrypted tag byte + 16-byte Poly1305 MAC.
CHUNK_OVERHEAD = prim.STREAM_ABYTES
_TAG_MESSAGE = prim.STREAM_TAG_MESSAGE
_TAG_FINAL = prim.STREAM_TAG_FINAL
_ENC_CHUNK = CHUNK_SIZE + CHUNK_OVERHEAD

Rng = Callable[[int], bytes]

# --------------------------------------------------------------------------- manifest

#: Version byte of the manifest layout below.
MANIFEST_VERSION = 1
FILE_KEY_LEN = 32
#: Default (and hard) upper bound on an attachment's plaintext size.
MAX_FILE_SIZE = 512 * 1024 * 1024
#: Longest file name kept, in UTF-8 bytes (common file-system limit).
MAX_NAME_BYTES = 255
MAX_MIME_LEN = 127
DEFAULT_MIME_TYPE = "application/octet-stream"
DEFAULT_FILE_NAME = "attachment"
# version | file_id 16 | key 32 | size u64 | sha256 32 | mime_len u8 | name_len u16
_MANIFEST_FIXED = struct.Struct(">B16s32sQ32sBH")
MANIFEST_FIXED_LEN = _MANIFEST_FIXED.size  # 92
_MIME_RE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")


_LEADING_JUNK = re.compile(r"^[\s.]+")
_FORBIDDEN_CATEGORIES = frozenset(("Cc", "Cf", "Cs"))


def _sanitize_once(name: str) -> str:
    base = re.split(r"[/\\]", name)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch) not in _FORBIDDEN_CATEGORIES)
    base = unicodedata.normalize("NFC", base)
    base = _LEADING_JUNK.sub("", base).rstrip()
    encoded = base.encode("utf-8")
    if len(encoded) > MAX_NAME_BYTES:
        base = encoded[:MAX_NAME_BYTES].decode("utf-8", "ignore").rstrip()
    return base


def sanitize_file_name(name: str) -> str:
    """A file name safe to create in the user's chosen directory.

    Why: the name comes from the peer. Path separators (``/`` and ``\\``) would let it
    escape the directory, control and bidi-format characters can disguise an extension
    (``invoice\\u202efdp.exe``), and ``.``/``..`` or leading dots name special entries.
    Only the last path component survives, without Cc/Cf/Cs characters, leading dots and
    whitespace or trailing whitespace, NFC-normalised and cut to 255 UTF-8 bytes.

    The result is a fixed point (sanitising it again changes nothing), which the manifest
    checks on both sides.  One pass is not always enough - removing a zero-width character
    can leave a decomposed pair that NFC then joins - so the steps are repeated until
    nothing changes; a name that does not settle within a few passes becomes the default.
    """
    base = _sanitize_once(name)
    for _ in range(4):
        again = _sanitize_once(base)
        if again == base:
            return base or DEFAULT_FILE_NAME
        base = again
    return DEFAULT_FILE_NAME


def _check_mime(mime_type: str) -> None:
    if len(mime_type) > MAX_MIME_LEN or _MIME_RE.fullmatch(mime_type) is None:
        raise MalformedToken("attachment MIME type is invalid")


@dataclass(frozen=True, slots=True)
class Manifest:
    """Everything needed to open one container; sent inside an encrypted message.

    ``name`` is always sanitised (on creation and again on parsing) so callers can join it
    to a directory without further checks.
    """

    file_id: bytes
    key: bytes
    size: int
    sha256: bytes
    name: str
    mime_type: str

    def __post_init__(self) -> None:
        if len(self.file_id) != FILE_ID_LEN or len(self.key) != FILE_KEY_LEN:
            raise MalformedToken("attachment manifest has a bad id or key length")
        if len(self.sha256) != 32 or not 0 <= self.size <= MAX_FILE_SIZE:
            raise MalformedToken("attachment manifest has a bad hash or size")
        if sanitize_file_name(self.name) != self.name:
            raise MalformedToken("attachment manifest file name is not sanitised")
        _check_mime(self.mime_type)

    def to_bytes(self) -> bytes:
        """Fixed binary layout (PROTOCOL.md, "Attachment manifest")."""
        name = self.name.encode("utf-8")
        mime = self.mime_type.encode("ascii")
        return _MANIFEST_FIXED.pack(
            MANIFEST_VERSION, self.file_id, self.key, self.size, self.sha256,
            len(mime), len(name)) + mime + name

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """Strict inverse of :meth:`to_bytes`; the name is sanitised again."""
        if len(data) < MANIFEST_FIXED_LEN:
            raise MalformedToken("attachment manifest is truncated")
        version, file_id, key, size, sha, mime_len, name_len = _MANIFEST_FIXED.unpack_from(data)
        if version != MANIFEST_VERSION:
            raise MalformedToken("unsupported attachment manifest version")
        if len(data) != MANIFEST_FIXED_LEN + mime_len + name_len or name_len > MAX_NAME_BYTES:
            raise MalformedToken("attachment manifest has the wrong length")
        mime_raw = data[MANIFEST_FIXED_LEN:MANIFEST_FIXED_LEN + mime_len]
        name_raw = data[MANIFEST_FIXED_LEN + mime_len:]
        try:
            mime = mime_raw.decode("ascii")
            name = name_raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedToken("attachment manifest text is not valid") from None
        return cls(file_id, key, size, sha, sanitize_file_name(name), mime)


# --------------------------------------------------------------------------- container


def padded_size(plaintext_size: int) -> int:
    """Stream plaintext length of a padded (``MCF3``) container: the envelope's bucket.

    Why the envelope's rule (PROTOCOL §8): a file then reveals exactly what a text of the
    same size would - a multiple of 256 up to 4 KiB, Padmé above (at most 12 % overhead,
    about 3 % at 1 MiB) - and one function is specified and tested once.
    """
    return bucket_size(plaintext_size)


def container_size(plaintext_size: int, *, version: int = FILE_VERSION_PADDED) -> int:
    """Exact size of the container for a plaintext of ``plaintext_size`` bytes."""
    stream = padded_size(plaintext_size) if version == FILE_VERSION_PADDED else plaintext_size
    chunks = max(1, -(-stream // CHUNK_SIZE))
    return FILE_HEADER_LEN + STREAM_HEADER_LEN + stream + chunks * CHUNK_OVERHEAD


def _read_exact(src: BinaryIO, n: int) -> bytes:
    """Read ``n`` bytes or up to EOF; pipes and sockets may return short reads."""
    first = src.read(n)
    if first is None:
        raise MalformedToken("the input stream is non-blocking; use a blocking file")
    if len(first) == n or not first:
        return bytes(first)
    parts = [bytes(first)]
    got = len(first)
    while got < n:
        more = src.read(n - got)
        if not more:
            break
        parts.append(bytes(more))
        got += len(more)
    return b"".join(parts)


class _PaddedSource:
    """The file's bytes, then zeros up to ``padded_size(size)``, one chunk at a time.

    Why a wrapper: the size is known only at the end of a stream (a pipe has no length),
    so the padding is appended after EOF without ever holding more than one chunk. It
    counts and hashes the real bytes only, and enforces the size limit on them.
    """

    def __init__(self, src: BinaryIO, max_size: int) -> None:
        self._src = src
        self._max_size = max_size
        self.size = 0
        self.digest = hashlib.sha256()
        self._padding_left: int | None = None

    def read(self, n: int) -> bytes:
        if self._padding_left is None:
            data = _read_exact(self._src, n)
            self.size += len(data)
            if self.size > self._max_size:
                raise LimitExceeded(f"file is larger than the {self._max_size}-byte limit")
            self.digest.update(data)
            if len(data) == n:
                return data
            self._padding_left = padded_size(self.size) - self.size
            pad = min(n - len(data), self._padding_left)
        else:
            data, pad = b"", min(n, self._padding_left)
        self._padding_left -= pad
        return data + bytes(pad)


def seal_file(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    pairing_id: bytes,
    epoch: int,
    direction: Direction,
    name: str,
    mime_type: str = DEFAULT_MIME_TYPE,
    max_size: int = MAX_FILE_SIZE,
    rng: Rng = os.urandom,
) -> Manifest:
    """Encrypt ``src`` into a padded (``MCF3``) container on ``dst``; return the manifest.

    The stream carries the file and then zeros up to :func:`padded_size`, so the
    container's length depends only on the size's bucket; the manifest (inside an
    encrypted message) carries the true size. ``rng`` is called three times, in this
    order: file key (32), file id (16), stream header (24). Raises :class:`LimitExceeded`
    once more than ``max_size`` bytes are read (``dst`` then holds a partial container
    the caller must discard).
    """
    key = rng(FILE_KEY_LEN)
    file_id = rng(FILE_ID_LEN)
    stream_header = rng(STREAM_HEADER_LEN)
    if len(key) != FILE_KEY_LEN or len(file_id) != FILE_ID_LEN or (
            len(stream_header) != STREAM_HEADER_LEN):
        raise ValueError("rng returned the wrong number of bytes")
    # Validate name and type before writing anything.
    manifest_name = sanitize_file_name(name)
    probe = Manifest(file_id, key, 0, bytes(32), manifest_name, mime_type)
    file_header = encode_file_header(pairing_id, epoch, direction, file_id,
                                     version=FILE_VERSION_PADDED)

    stream = prim.SecretStreamPush(key, stream_header)
    dst.write(file_header)
    dst.write(stream_header)

    source = _PaddedSource(src, max_size)
    ad: bytes | None = file_header
    chunk = source.read(CHUNK_SIZE)  # never empty: the padded stream is >= 256 bytes
    while True:
        following = source.read(CHUNK_SIZE) if len(chunk) == CHUNK_SIZE else b""
        tag = _TAG_MESSAGE if following else _TAG_FINAL
        dst.write(stream.push(chunk, ad, tag))
        ad = None
        if not following:
            break
        chunk = following
    return Manifest(probe.file_id, probe.key, source.size, source.digest.digest(), probe.name,
                    probe.mime_type)


def read_container_header(src: BinaryIO) -> FileHeader:
    """Read (keyless) and return the routing header at the start of a container."""
    return parse_file_header(_read_exact(src, FILE_HEADER_LEN))


def _zero(data: bytes) -> bool:
    """True if ``data`` is all zero bytes (padding is public: no constant time needed)."""
    return data.count(0) == len(data)


def open_file(
    src: BinaryIO,
    dst: BinaryIO,
    manifest: Manifest,
    *,
    pairing_id: bytes | None = None,
    max_size: int = MAX_FILE_SIZE,
) -> FileHeader:
    """Decrypt a container from ``src`` onto ``dst`` and verify it against ``manifest``.

    Reads both formats: padded ``MCF3`` (what writers write) and unpadded ``MCF2`` (what
    older companions wrote); the header is the first chunk's associated data, so a relay
    cannot switch one for the other. In ``MCF3`` the stream must hold exactly
    ``padded_size(manifest.size)`` bytes, the padding must be zero and is never written
    to ``dst``, and the final chunk is never empty.

    Plaintext reaches ``dst`` chunk by chunk *before* the final size and SHA-256 checks,
    so callers must write to a temporary file and keep it only if this returns (the CLI
    does). Raises :class:`DecryptionFailed` for any tampering, truncation, reordering,
    duplication, extra data, bad padding or hash mismatch; :class:`WrongPairing` if the
    container belongs to another file or pairing; :class:`LimitExceeded` above ``max_size``.
    """
    if manifest.size > max_size:
        raise LimitExceeded(f"file is larger than the {max_size}-byte limit")
    header = read_container_header(src)
    if not hmac.compare_digest(header.file_id, manifest.file_id):
        raise WrongPairing("the encrypted file does not belong to this manifest")
    if pairing_id is not None and not hmac.compare_digest(header.pairing_id, pairing_id):
        raise WrongPairing("the encrypted file belongs to another pairing")
    stream_header = _read_exact(src, STREAM_HEADER_LEN)
    if len(stream_header) != STREAM_HEADER_LEN:
        raise MalformedToken("encrypted file is truncated")

    padded = header.version == FILE_VERSION_PADDED
    stream_size = padded_size(manifest.size) if padded else manifest.size
    stream = prim.SecretStreamPull(manifest.key, stream_header)
    digest = hashlib.sha256()
    total = 0
    ad: bytes | None = header.raw
    while True:
        block = _read_exact(src, _ENC_CHUNK)
        if len(block) < CHUNK_OVERHEAD:
            # EOF (or a stub) before a FINAL-tagged chunk: the file was truncated.
            raise DecryptionFailed
        plain, tag = stream.pull(block, ad)
        ad = None
        content_left = max(0, manifest.size - total)
        total += len(plain)
        if total > stream_size:
            raise DecryptionFailed
        content, padding = plain[:content_left], plain[content_left:]
        if padding and not _zero(padding):
            raise DecryptionFailed
        digest.update(content)
        dst.write(content)
        if tag == _TAG_FINAL:
            if padded and not plain:
                raise DecryptionFailed  # MCF3 has one chunking: no empty final chunk
            break
        if tag != _TAG_MESSAGE or len(plain) != CHUNK_SIZE:
            raise DecryptionFailed
    if src.read(1):
        raise DecryptionFailed  # data after the final chunk
    if total != stream_size or not hmac.compare_digest(digest.digest(), manifest.sha256):
        raise DecryptionFailed
    return header
