"""A writer of the unpadded ``MCF2`` containers that companions wrote before ``MCF3``.

The product writes only padded ``MCF3`` containers (ADR 0022) but must keep opening the
``MCF2`` files already sitting in chats and inboxes. This reference writer follows
docs/PROTOCOL.md §14.1 for version 2 with the same injected RNG draws (file key, file
id, stream header) and the same streaming loop as the old writer, so the committed
``attachment_container.json`` vectors - written by the old writer - still regenerate
byte for byte, and the attachment benchmark can set today's cost beside yesterday's.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from typing import BinaryIO

from nacl import bindings as b

from medcrypt.crypto.endpoint.attachment import CHUNK_SIZE, Manifest, sanitize_file_name
from medcrypt.crypto.keyless.wire import FILE_VERSION_UNPADDED, Direction, encode_file_header

_TAG_MESSAGE = b.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL = b.crypto_secretstream_xchacha20poly1305_TAG_FINAL


def write_mcf2(src: BinaryIO, dst: BinaryIO, *, pairing_id: bytes, epoch: int,
               direction: Direction, name: str, mime_type: str = "application/octet-stream",
               rng: Callable[[int], bytes] = os.urandom) -> Manifest:
    """Stream ``src`` into an ``MCF2`` container on ``dst``, one chunk in memory."""
    key, file_id, stream_header = rng(32), rng(16), rng(24)
    file_header = encode_file_header(pairing_id, epoch, direction, file_id,
                                     version=FILE_VERSION_UNPADDED)
    state = b.crypto_secretstream_xchacha20poly1305_state()
    # init_pull on a chosen header sets up exactly the state init_push would (§14.1).
    b.crypto_secretstream_xchacha20poly1305_init_pull(state, stream_header, key)
    dst.write(file_header + stream_header)
    digest, total, ad = hashlib.sha256(), 0, file_header
    chunk = src.read(CHUNK_SIZE)
    while True:
        following = src.read(CHUNK_SIZE) if len(chunk) == CHUNK_SIZE else b""
        digest.update(chunk)
        total += len(chunk)
        tag = _TAG_MESSAGE if following else _TAG_FINAL
        dst.write(b.crypto_secretstream_xchacha20poly1305_push(state, chunk, ad, tag))
        ad = None
        if not following:
            break
        chunk = following
    return Manifest(file_id, key, total, digest.digest(), sanitize_file_name(name), mime_type)


def seal_mcf2(data: bytes, *, pairing_id: bytes, epoch: int, direction: Direction, name: str,
              mime_type: str, rng: Callable[[int], bytes]) -> tuple[bytes, Manifest]:
    """``(container, manifest)`` of ``data`` as an ``MCF2`` writer produced them."""
    out = io.BytesIO()
    manifest = write_mcf2(io.BytesIO(data), out, pairing_id=pairing_id, epoch=epoch,
                          direction=direction, name=name, mime_type=mime_type, rng=rng)
    return out.getvalue(), manifest
