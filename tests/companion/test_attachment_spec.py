"""Containers written by stock libsodium from docs/PROTOCOL.md §14, not by our writer.

The reader must accept what the spec allows and reject what it says a reader MUST reject,
whoever wrote the file - a second implementation (or a hostile peer) may chunk, tag and
pad in ways our writer never does. ``MCF2`` (unpadded, read only) and ``MCF3`` (padded,
what writers write) are both covered.
"""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from nacl import bindings as b

from medcrypt.crypto.endpoint.attachment import (
    CHUNK_SIZE,
    Manifest,
    container_size,
    open_file,
    padded_size,
)
from medcrypt.crypto.errors import DecryptionFailed
from medcrypt.crypto.keyless.wire import Direction, encode_file_header

TAG_MESSAGE = b.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_PUSH = b.crypto_secretstream_xchacha20poly1305_TAG_PUSH
TAG_REKEY = b.crypto_secretstream_xchacha20poly1305_TAG_REKEY
TAG_FINAL = b.crypto_secretstream_xchacha20poly1305_TAG_FINAL


def write(chunks: list[tuple[bytes, int]], *, version: int = 2,
          size: int | None = None) -> tuple[bytes, Manifest]:
    """A container per §14.1 from (stream bytes, tag) pairs, using libsodium's init_push.

    ``size`` is the manifest's file size: the first ``size`` stream bytes are the file
    (default: all of them, as in ``MCF2``); in ``MCF3`` the rest is the padding.
    """
    key, file_id = os.urandom(32), os.urandom(16)
    file_header = encode_file_header(bytes(16), 682, Direction.PHYSICIAN_TO_PATIENT, file_id,
                                     version=version)
    state = b.crypto_secretstream_xchacha20poly1305_state()
    parts = [file_header, b.crypto_secretstream_xchacha20poly1305_init_push(state, key)]
    for i, (plain, tag) in enumerate(chunks):
        ad = file_header if i == 0 else None
        parts.append(b.crypto_secretstream_xchacha20poly1305_push(state, plain, ad, tag))
    stream = b"".join(p for p, _ in chunks)
    plaintext = stream if size is None else stream[:size]
    manifest = Manifest(file_id, key, len(plaintext), hashlib.sha256(plaintext).digest(),
                        "scan.pdf", "application/pdf")
    return b"".join(parts), manifest


def read(container: bytes, manifest: Manifest) -> bytes:
    out = io.BytesIO()
    open_file(io.BytesIO(container), out, manifest)
    return out.getvalue()


FULL = os.urandom(CHUNK_SIZE)


@pytest.mark.parametrize("chunks", [
    [(b"", TAG_FINAL)],
    [(b"short", TAG_FINAL)],
    [(FULL, TAG_FINAL)],
    [(FULL, TAG_MESSAGE), (FULL, TAG_MESSAGE), (b"tail", TAG_FINAL)],
], ids=["empty", "one-short", "one-full-final", "three"])
def test_spec_conforming_containers_open(chunks: list[tuple[bytes, int]]) -> None:
    container, manifest = write(chunks)
    assert len(container) == container_size(manifest.size, version=2)
    assert read(container, manifest) == b"".join(p for p, _ in chunks)


def test_empty_final_chunk_after_full_chunks_is_accepted() -> None:
    # §14.1: a reader MAY accept it; ours does (size and SHA-256 still bind the content).
    container, manifest = write([(FULL, TAG_MESSAGE), (b"", TAG_FINAL)])
    assert read(container, manifest) == FULL


@pytest.mark.parametrize("chunks", [
    [(FULL, TAG_MESSAGE)],                                    # ends before TAG_FINAL
    [(b"short", TAG_MESSAGE), (b"x", TAG_FINAL)],             # non-final chunk not full
    [(FULL, TAG_PUSH), (b"x", TAG_FINAL)],                    # PUSH tag
    [(FULL, TAG_REKEY), (b"x", TAG_FINAL)],                   # REKEY tag
    [(b"x", TAG_FINAL), (b"y", TAG_FINAL)],                   # a chunk after TAG_FINAL
    [(FULL, TAG_FINAL), (b"y", TAG_FINAL)],                   # ... after a full final one
], ids=["no-final", "short-message", "push", "rekey", "after-final", "after-full-final"])
def test_spec_violations_are_rejected(chunks: list[tuple[bytes, int]]) -> None:
    container, manifest = write(chunks)
    with pytest.raises(DecryptionFailed):
        read(container, manifest)


def test_file_header_is_additional_data_of_chunk_zero_only() -> None:
    """A writer that binds the header to a later chunk (or to none) is not conforming."""
    key, file_id = os.urandom(32), os.urandom(16)
    file_header = encode_file_header(bytes(16), 682, Direction.PHYSICIAN_TO_PATIENT, file_id,
                                     version=2)
    manifest = Manifest(file_id, key, CHUNK_SIZE + 1,
                        hashlib.sha256(FULL + b"x").digest(), "a", "text/plain")
    for ads in ((None, file_header), (file_header, file_header), (None, None)):
        state = b.crypto_secretstream_xchacha20poly1305_state()
        container = file_header + b.crypto_secretstream_xchacha20poly1305_init_push(state, key)
        for plain, tag, ad in ((FULL, TAG_MESSAGE, ads[0]), (b"x", TAG_FINAL, ads[1])):
            container += b.crypto_secretstream_xchacha20poly1305_push(state, plain, ad, tag)
        with pytest.raises(DecryptionFailed):
            read(container, manifest)


# --------------------------------------------------------------------------- MCF3 (padded)


def _padded(content: bytes, pad_to: int | None = None) -> list[tuple[bytes, int]]:
    """``content`` and zeros up to ``pad_to`` (default: padded_size) cut as §14.1 says."""
    stream = content + bytes((padded_size(len(content)) if pad_to is None else pad_to)
                             - len(content))
    cuts = [stream[i:i + CHUNK_SIZE] for i in range(0, len(stream), CHUNK_SIZE)] or [b""]
    return [(c, TAG_MESSAGE) for c in cuts[:-1]] + [(cuts[-1], TAG_FINAL)]


@pytest.mark.parametrize("size", [0, 5, 256, 257, 4096, CHUNK_SIZE, 3 * CHUNK_SIZE + 7])
def test_padded_containers_by_the_spec_open(size: int) -> None:
    content = os.urandom(size)
    container, manifest = write(_padded(content), version=3, size=size)
    assert len(container) == container_size(size)
    assert read(container, manifest) == content


def _nonzero_padding() -> list[tuple[bytes, int]]:
    chunks = _padded(b"short")
    plain, tag = chunks[-1]
    return [(plain[:-1] + b"\x01", tag)]


@pytest.mark.parametrize(("chunks", "size"), [
    (_nonzero_padding(), 5),                                   # padding not zero
    ([(b"short", TAG_FINAL)], 5),                              # not padded at all
    (_padded(b"short", pad_to=512), 5),                        # padded to the next bucket
    (_padded(b"short", pad_to=255), 5),                        # one byte short of it
    ([(FULL, TAG_MESSAGE), (b"", TAG_FINAL)], CHUNK_SIZE),     # empty final chunk
], ids=["nonzero-padding", "unpadded", "over-padded", "under-padded", "empty-final"])
def test_padded_spec_violations_are_rejected(chunks: list[tuple[bytes, int]],
                                             size: int) -> None:
    container, manifest = write(chunks, version=3, size=size)
    with pytest.raises(DecryptionFailed):
        read(container, manifest)


def test_format_byte_is_authenticated_both_ways() -> None:
    """A relay cannot relabel MCF3 as MCF2 (to hide padding checks) or the reverse."""
    for version, other in ((3, 2), (2, 3)):
        chunks = _padded(b"abc") if version == 3 else [(b"abc", TAG_FINAL)]
        container, manifest = write(chunks, version=version, size=3)
        forged = encode_file_header(bytes(16), 682, Direction.PHYSICIAN_TO_PATIENT,
                                    manifest.file_id, version=other) + container[42:]
        with pytest.raises(DecryptionFailed):
            read(forged, manifest)
