"""Attachments: round trips, and every kind of stream damage is detected."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl import bindings as b

from medcrypt.crypto.endpoint.attachment import (
    CHUNK_OVERHEAD,
    CHUNK_SIZE,
    MANIFEST_FIXED_LEN,
    STREAM_HEADER_LEN,
    Manifest,
    container_size,
    open_file,
    padded_size,
    read_container_header,
    sanitize_file_name,
    seal_file,
)
from medcrypt.crypto.errors import (
    DecryptionFailed,
    LimitExceeded,
    MalformedToken,
    MedCryptError,
    WrongPairing,
)
from medcrypt.crypto.keyless.wire import FILE_HEADER_LEN, Direction
from tests.companion.gen_vectors import attachment_vectors, fixed_rng, pattern, v1_vectors
from tests.support.mcf2_writer import seal_mcf2

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
PAIRING = bytes(range(16))
PREFIX = FILE_HEADER_LEN + STREAM_HEADER_LEN
ENC = CHUNK_SIZE + CHUNK_OVERHEAD
Chunked = tuple[bytes, Manifest, list[bytes]]


def seal(data: bytes, **kw: object) -> tuple[bytes, Manifest]:
    out = io.BytesIO()
    args: dict[str, object] = {"pairing_id": PAIRING, "epoch": 682,
                               "direction": Direction.PATIENT_TO_PHYSICIAN, "name": "x.bin"}
    args.update(kw)
    manifest = seal_file(io.BytesIO(data), out, **args)  # type: ignore[arg-type]
    return out.getvalue(), manifest


def unseal(container: bytes, manifest: Manifest, **kw: object) -> bytes:
    out = io.BytesIO()
    open_file(io.BytesIO(container), out, manifest, **kw)  # type: ignore[arg-type]
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1,
                                  3 * CHUNK_SIZE, 3 * CHUNK_SIZE + 7])
def test_round_trip_sizes(size: int) -> None:
    data = os.urandom(size)
    container, manifest = seal(data)
    assert len(container) == container_size(size)
    assert manifest.size == size
    assert manifest.sha256 == hashlib.sha256(data).digest()
    assert unseal(container, manifest, pairing_id=PAIRING) == data
    header = read_container_header(io.BytesIO(container))
    assert (header.pairing_id, header.epoch, header.file_id) == (PAIRING, 682, manifest.file_id)


class _Trickle(io.RawIOBase):
    """A source that returns at most 1000 bytes per read, like a pipe."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        return self._buf.read(min(n, 1000) if n >= 0 else 1000)


def test_short_reads_from_pipes_are_handled() -> None:
    data = os.urandom(2 * CHUNK_SIZE + 5)
    container, _manifest = seal(data)
    out = io.BytesIO()
    m2 = seal_file(_Trickle(data), out, pairing_id=PAIRING, epoch=682,  # type: ignore[arg-type]
                   direction=Direction.PATIENT_TO_PHYSICIAN, name="x")
    assert len(out.getvalue()) == len(container)
    back = io.BytesIO()
    open_file(_Trickle(out.getvalue()), back, m2)  # type: ignore[arg-type]
    assert back.getvalue() == data


@pytest.fixture(scope="module")
def three_chunks() -> tuple[bytes, Manifest, list[bytes]]:
    data = os.urandom(3 * CHUNK_SIZE + 100)
    container, manifest = seal(data)
    body = container[PREFIX:]
    chunks = [body[i:i + ENC] for i in range(0, len(body), ENC)]
    assert len(chunks) == 4
    return container, manifest, chunks


def test_truncation_at_every_chunk_boundary(three_chunks: Chunked) -> None:
    container, manifest, chunks = three_chunks
    for keep in range(len(chunks)):
        cut = container[:PREFIX + keep * ENC]
        with pytest.raises((DecryptionFailed, MalformedToken)):
            unseal(cut, manifest)
    for cut_at in (1, FILE_HEADER_LEN, PREFIX - 1, PREFIX + 5, len(container) - 1):
        with pytest.raises((DecryptionFailed, MalformedToken)):
            unseal(container[:cut_at], manifest)


def test_reorder_drop_duplicate_and_append(three_chunks: Chunked) -> None:
    container, manifest, c = three_chunks
    head = container[:PREFIX]
    variants = {
        "swap": [c[1], c[0], c[2], c[3]],
        "swap-middle": [c[0], c[2], c[1], c[3]],
        "drop": [c[0], c[2], c[3]],
        "duplicate": [c[0], c[1], c[1], c[2], c[3]],
        "final-early": [c[0], c[3]],
        "extra-after-final": [c[0], c[1], c[2], c[3], c[0]],
        "garbage-after-final": [c[0], c[1], c[2], c[3], b"\x00"],
    }
    for name, chunks in variants.items():
        with pytest.raises(DecryptionFailed):
            unseal(head + b"".join(chunks), manifest)
        assert name


def test_every_header_byte_is_bound(three_chunks: Chunked) -> None:
    container, manifest, _ = three_chunks
    for pos in range(PREFIX):
        bad = bytearray(container)
        bad[pos] ^= 0x04
        with pytest.raises((DecryptionFailed, MalformedToken, WrongPairing)):
            unseal(bytes(bad), manifest)


def test_flipped_ciphertext_bit_in_any_chunk(three_chunks: Chunked) -> None:
    container, manifest, _ = three_chunks
    for pos in (PREFIX, PREFIX + ENC + 3, PREFIX + 2 * ENC + 17, len(container) - 1):
        bad = bytearray(container)
        bad[pos] ^= 0x80
        with pytest.raises(DecryptionFailed):
            unseal(bytes(bad), manifest)


def test_manifest_must_match() -> None:
    container, manifest = seal(b"hello world")
    other_container, other = seal(b"hello world")
    with pytest.raises(WrongPairing):
        unseal(other_container, manifest)
    with pytest.raises(WrongPairing):
        unseal(container, manifest, pairing_id=bytes(16))
    wrong_key = Manifest(manifest.file_id, other.key, manifest.size, manifest.sha256,
                         manifest.name, manifest.mime_type)
    with pytest.raises(DecryptionFailed):
        unseal(container, wrong_key)
    for size, sha in ((10, manifest.sha256), (12, manifest.sha256), (11, bytes(32))):
        lying = Manifest(manifest.file_id, manifest.key, size, sha, manifest.name,
                         manifest.mime_type)
        with pytest.raises(DecryptionFailed):
            unseal(container, lying)


def test_size_limits() -> None:
    with pytest.raises(LimitExceeded):
        seal(os.urandom(CHUNK_SIZE + 10), max_size=CHUNK_SIZE)
    container, manifest = seal(os.urandom(1000))
    with pytest.raises(LimitExceeded):
        unseal(container, manifest, max_size=999)


def test_manifest_round_trip_and_strictness() -> None:
    _, manifest = seal(b"abc", name="Röntgen Thorax.png", mime_type="image/png")
    raw = manifest.to_bytes()
    assert len(raw) == MANIFEST_FIXED_LEN + len("image/png") + len("Röntgen Thorax.png".encode())
    assert Manifest.from_bytes(raw) == manifest
    for bad in (raw[:-1], raw + b"\x00", b"\x02" + raw[1:], raw[:MANIFEST_FIXED_LEN - 1]):
        with pytest.raises(MalformedToken):
            Manifest.from_bytes(bad)
    with pytest.raises(MalformedToken):
        seal(b"x", mime_type="text/html; charset=utf-8")


def test_manifest_names_are_sanitised_on_open() -> None:
    _, manifest = seal(b"abc", name="ok.txt")
    raw = bytearray(manifest.to_bytes())
    evil = b"../../etc/passwd"
    raw[-len(b"ok.txt"):] = evil
    raw[MANIFEST_FIXED_LEN - 2:MANIFEST_FIXED_LEN] = len(evil).to_bytes(2, "big")
    assert Manifest.from_bytes(bytes(raw)).name == "passwd"


@pytest.mark.parametrize(("name", "expected"), [
    ("report.pdf", "report.pdf"), ("../../x.pdf", "x.pdf"), ("C:\\Users\\a\\b.png", "b.png"),
    ("..", "attachment"), ("", "attachment"), (".bashrc", "bashrc"),
    ("inv\u202efdp.exe", "invfdp.exe"), ("a\x00b\nc", "abc"), ("ü" * 200, "ü" * 127),
    # Regressions: a single pass used to leave ".x" and a decomposed "e\u0301", which the
    # manifest then refused as "not sanitised".
    (" . .x", "x"), ("e\u200b\u0301.txt", "\u00e9.txt"), ("x" * 254 + " y", "x" * 254),
])
def test_sanitize_file_name(name: str, expected: str) -> None:
    assert sanitize_file_name(name) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_sanitized_names_are_always_safe(name: str) -> None:
    clean = sanitize_file_name(name)
    assert clean and "/" not in clean and "\\" not in clean and "\x00" not in clean
    assert not clean.startswith(".") and len(clean.encode()) <= 255
    assert sanitize_file_name(clean) == clean


# Characters that interact across the sanitising steps: dots and spaces around the
# trimming, zero-width/bidi format characters around combining marks (NFC), separators.
_TRICKY = st.text(alphabet=st.sampled_from(
    [".", " ", "\u3000", "\u200b", "\u200d", "\u202e", "\u0301", "\u0308", "\u0327", "e",
     "a", "\u1100", "\u1161", "\u11a8", "/", "\\", "\x00", "\ud800", "\u00e9"]), max_size=40)


@settings(max_examples=400, deadline=None)
@given(_TRICKY)
def test_sanitising_tricky_names_is_idempotent_and_seals(name: str) -> None:
    clean = sanitize_file_name(name)
    assert sanitize_file_name(clean) == clean
    assert not clean.startswith((".", " ")) and clean == clean.rstrip()
    Manifest(bytes(16), bytes(32), 0, bytes(32), clean, "text/plain")


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400))
def test_manifest_parser_raises_only_project_errors(data: bytes) -> None:
    with contextlib.suppress(MedCryptError):
        Manifest.from_bytes(data)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=3 * CHUNK_SIZE // 2))
def test_round_trip_property(data: bytes) -> None:
    container, manifest = seal(data)
    assert unseal(container, manifest) == data


def test_committed_mcf2_vectors_both_ways() -> None:
    """The unpadded containers older companions wrote still open (and still regenerate)."""
    vectors = json.loads((VECTORS / "attachment_container.json").read_text())
    assert vectors["chunk_size"] == CHUNK_SIZE
    for case in vectors["cases"]:
        plaintext = pattern(case["plaintext_size"])
        container, manifest = seal_mcf2(
            plaintext, pairing_id=bytes.fromhex(case["pairing_id_hex"]),
            epoch=case["epoch"], direction=Direction(case["direction"]), name=case["name"],
            mime_type=case["mime_type"], rng=fixed_rng(bytes.fromhex(case["rng_hex"])))
        assert container[:5] == b"MCF2\x02"
        assert len(container) == container_size(len(plaintext), version=2)
        assert manifest.to_bytes().hex() == case["manifest_hex"]
        assert hashlib.sha256(container).hexdigest() == case["container_sha256_hex"]
        if "container_hex" in case:
            assert container.hex() == case["container_hex"]
        opened = unseal(container, Manifest.from_bytes(bytes.fromhex(case["manifest_hex"])))
        assert hashlib.sha256(opened).hexdigest() == case["plaintext_sha256_hex"]


def test_vectors_decrypt_with_stock_libsodium_pull() -> None:
    """The init_pull-for-push trick is byte-identical to what libsodium's push produces."""
    data = os.urandom(CHUNK_SIZE + 10)
    container, manifest = seal(data)
    state = b.crypto_secretstream_xchacha20poly1305_state()
    b.crypto_secretstream_xchacha20poly1305_init_pull(
        state, container[FILE_HEADER_LEN:PREFIX], manifest.key)
    m1, t1 = b.crypto_secretstream_xchacha20poly1305_pull(
        state, container[PREFIX:PREFIX + ENC], container[:FILE_HEADER_LEN])
    m2, t2 = b.crypto_secretstream_xchacha20poly1305_pull(state, container[PREFIX + ENC:])
    # MCF3: the stream is the file, then zeros up to the bucket of its size.
    assert m1 + m2 == data + bytes(padded_size(len(data)) - len(data))
    assert (t1, t2) == (b.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
                        b.crypto_secretstream_xchacha20poly1305_TAG_FINAL)


def test_vectors_are_current() -> None:
    assert json.loads((VECTORS / "attachment_container.json").read_text()) == attachment_vectors()
    assert json.loads((VECTORS / "v1_tokens.json").read_text()) == v1_vectors()


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=300), size=st.integers(0, 512 * 1024 * 1024),
       mime=st.sampled_from(["application/pdf", "image/jpeg", "text/plain",
                             "application/vnd.ms-excel"]))
def test_manifest_round_trips_any_name(name: str, size: int, mime: str) -> None:
    manifest = Manifest(bytes(16), bytes(32), size, bytes(32), sanitize_file_name(name), mime)
    assert Manifest.from_bytes(manifest.to_bytes()) == manifest
