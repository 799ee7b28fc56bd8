"""The backup envelope: what an attacker holding the file (or the disk) can and cannot do.

Every failure to authenticate is the one opaque DecryptionFailed: a changed byte in the
header, the wrapped key, any chunk; a dropped FINAL chunk; bytes appended; a header
moved from another backup; the wrong keyring.
"""

from __future__ import annotations

import io
import os

import pytest

from medcrypt.crypto.errors import BadToken, DecryptionFailed, KeyVersionMissing
from medcrypt.crypto.server.backup_seal import (
    CHUNK_BYTES,
    MAGIC,
    open_stream,
    read_header,
    seal_stream,
)
from medcrypt.crypto.server.keyring import Keyring

HEADER = {"format": 1, "created_us": 1_780_000_000_000_000, "dialect": "sqlite",
          "schema_revision": "0014", "audit_head_seq": 7, "audit_head_hash": "ab" * 32}
MARKER = b"PATIENT-PLAINTEXT-MARKER "


def _ring(version: int = 1) -> Keyring:
    return Keyring({version: os.urandom(32)})


def _seal(ring: Keyring, data: bytes, header: dict[str, object] | None = None) -> bytes:
    out = io.BytesIO()
    seal_stream(ring, header or HEADER, io.BytesIO(data), out)  # type: ignore[arg-type]
    return out.getvalue()


def _open(ring: Keyring, sealed: bytes) -> bytes:
    out = io.BytesIO()
    open_stream(ring, io.BytesIO(sealed), out)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, 3 * CHUNK_BYTES + 17])
def test_round_trip_and_no_plaintext_in_the_file(size: int) -> None:
    ring = _ring()
    data = (MARKER * (size // len(MARKER) + 1))[:size]
    sealed = _seal(ring, data)
    assert _open(ring, sealed) == data
    if size >= len(MARKER):
        assert MARKER not in sealed
    header, _raw = read_header(io.BytesIO(sealed))
    assert header == HEADER


def test_each_backup_has_its_own_data_key() -> None:
    ring = _ring()
    data = MARKER * 100
    a, b = _seal(ring, data), _seal(ring, data)
    body = len(a) // 2
    assert a[body:] != b[body:]


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def test_any_changed_byte_after_the_header_fails_opaquely() -> None:
    ring = _ring()
    sealed = _seal(ring, os.urandom(2 * CHUNK_BYTES + 5))
    header_end = len(MAGIC) + 4 + int.from_bytes(sealed[len(MAGIC):len(MAGIC) + 4], "big")
    for at in [header_end + 10, header_end + 40, header_end + 200, len(sealed) // 2,
               len(sealed) - 1]:
        with pytest.raises(DecryptionFailed):
            _open(ring, _flip(sealed, at))


def test_an_edited_header_value_fails() -> None:
    ring = _ring()
    sealed = _seal(ring, b"x" * 100)
    edited = sealed.replace(b'"audit_head_seq":7', b'"audit_head_seq":8')
    assert edited != sealed
    with pytest.raises(DecryptionFailed):
        _open(ring, edited)


def test_a_header_moved_from_another_backup_fails() -> None:
    ring = _ring()
    a = _seal(ring, b"a" * 100)
    b = _seal(ring, b"b" * 100, {**HEADER, "audit_head_seq": 9})
    cut_a = len(MAGIC) + 4 + int.from_bytes(a[len(MAGIC):len(MAGIC) + 4], "big")
    cut_b = len(MAGIC) + 4 + int.from_bytes(b[len(MAGIC):len(MAGIC) + 4], "big")
    with pytest.raises(DecryptionFailed):
        _open(ring, b[:cut_b] + a[cut_a:])


def test_truncated_or_extended_files_fail() -> None:
    ring = _ring()
    sealed = _seal(ring, os.urandom(2 * CHUNK_BYTES))
    last_chunk = CHUNK_BYTES + 17 + 4  # ciphertext + ABYTES + length prefix
    for bad in (sealed[:-last_chunk], sealed[:-1], sealed + b"\x00", sealed + sealed[-40:]):
        with pytest.raises(BadToken):
            _open(ring, bad)


def test_another_keyring_cannot_open_it() -> None:
    sealed = _seal(_ring(), b"secret dump")
    with pytest.raises(DecryptionFailed):
        _open(_ring(), sealed)
    with pytest.raises(KeyVersionMissing):  # a rotated-away version is named, not guessed
        _open(_ring(version=2), sealed)


def test_rotation_keeps_old_backups_readable_while_the_old_version_is_listed() -> None:
    old = os.urandom(32)
    sealed = _seal(Keyring({1: old}), b"dump under v1")
    assert _open(Keyring({2: os.urandom(32), 1: old}), sealed) == b"dump under v1"


def test_a_wrapped_key_does_not_open_as_a_sealed_column() -> None:
    ring = _ring()
    wrapped = ring.wrap_key(os.urandom(32), ("backup", b"h" * 32))
    with pytest.raises(DecryptionFailed):
        ring.open(wrapped, ("backup", b"h" * 32))
