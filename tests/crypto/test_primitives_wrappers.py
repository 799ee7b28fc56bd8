"""The wrappers the attachment, v1 and keystore modules use, checked against the libraries.

Each wrapper must give the library's exact bytes and turn every library failure into the
project's errors (:class:`DecryptionFailed` for authentication, nothing from PyNaCl or
``cryptography`` escaping).  Ed25519 goes through libsodium for speed; a property test
pins it to OpenSSL's signatures (RFC 8032 signing is deterministic).
"""

from __future__ import annotations

import hashlib
import hmac
import os

import nacl.bindings as sodium
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.pwhash import argon2id

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.errors import DecryptionFailed, MalformedToken, StorageError

# --------------------------------------------------------------------------- Ed25519


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.binary(max_size=300))
def test_ed25519_libsodium_signatures_equal_openssl(seed: bytes, message: bytes) -> None:
    reference = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    signer = prim.Ed25519Signer(seed)
    assert signer.public == reference.public_key().public_bytes_raw()
    signature = signer.sign(message)
    assert signature == reference.sign(message) == prim.ed25519_sign(seed, message)
    prim.ed25519_verify(signer.public, message, signature)
    reference.public_key().verify(signature, message)


def test_ed25519_verify_rejects_every_single_bit_flip() -> None:
    signer = prim.Ed25519Signer(b"\x11" * 32)
    message = b"MEDCRYPT v2 envelope" + bytes(83)
    signature = signer.sign(message)
    for i in range(len(signature) * 8):
        bad = bytearray(signature)
        bad[i // 8] ^= 1 << (i % 8)
        with pytest.raises(DecryptionFailed):
            prim.ed25519_verify(signer.public, message, bytes(bad))
    with pytest.raises(DecryptionFailed):
        prim.ed25519_verify(signer.public, message + b"x", signature)
    for public, sig in ((signer.public[:31], signature), (signer.public, signature[:63])):
        with pytest.raises(DecryptionFailed):
            prim.ed25519_verify(public, message, sig)


def test_ed25519_public_key_value_verifies_like_the_function() -> None:
    signer = prim.Ed25519Signer(b"\x22" * 32)
    key = prim.Ed25519PublicKey(signer.public)
    signature = signer.sign(b"checkpoint")
    assert key.verify(b"checkpoint", signature)
    assert not key.verify(b"checkpoint!", signature)
    assert not key.verify(b"checkpoint", signature[:63])
    assert not key.verify(b"checkpoint", bytes(64))
    # A value: equal keys collapse in a mapping, and a bytearray is copied in.
    assert key == prim.Ed25519PublicKey(bytearray(signer.public))
    assert isinstance(prim.Ed25519PublicKey(bytearray(signer.public)).raw, bytes)
    assert len({key, prim.Ed25519PublicKey(signer.public)}) == 1
    for bad in (signer.public[:31], signer.public + b"\x00"):
        with pytest.raises(MalformedToken):
            prim.Ed25519PublicKey(bad)


def test_ed25519_public_key_is_strict_where_openssl_is_not() -> None:
    """The identity point as a key with ``R = identity, S = 0`` "signs" every message
    under OpenSSL's cofactorless check; libsodium refuses small-order keys outright.
    The audit verifier moved from OpenSSL to this wrapper, so such a key proves nothing.
    """
    identity = b"\x01" + bytes(31)
    forged = identity + bytes(32)
    ed25519.Ed25519PublicKey.from_public_bytes(identity).verify(forged, b"any message")
    assert not prim.Ed25519PublicKey(identity).verify(b"any message", forged)


def test_ed25519_seed_length_is_checked() -> None:
    with pytest.raises(MalformedToken):
        prim.Ed25519Signer(bytes(31))
    with pytest.raises(MalformedToken):
        prim.ed25519_sign(bytes(33), b"m")


# --------------------------------------------------------------------------- secretstream


Chunk = tuple[bytes, bytes | None, int]


def _stock_push(key: bytes, chunks: list[Chunk]) -> tuple[bytes, list[bytes]]:
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    return header, [sodium.crypto_secretstream_xchacha20poly1305_push(state, m, ad, tag)
                    for m, ad, tag in chunks]


CHUNKS: list[Chunk] = [(b"first", b"file header", prim.STREAM_TAG_MESSAGE),
          (b"", None, prim.STREAM_TAG_MESSAGE),
          (b"last" * 100, None, prim.STREAM_TAG_FINAL)]


def test_secretstream_pull_opens_stock_libsodium_push() -> None:
    key = os.urandom(32)
    header, blocks = _stock_push(key, CHUNKS)
    pull = prim.SecretStreamPull(key, header)
    assert [pull.pull(block, ad) for block, (_, ad, _) in zip(blocks, CHUNKS, strict=True)] == [
        (m, tag) for m, _, tag in CHUNKS]


def test_secretstream_push_with_chosen_header_opens_with_stock_libsodium() -> None:
    key, header = os.urandom(32), os.urandom(prim.STREAM_HEADER_LEN)
    push = prim.SecretStreamPush(key, header)
    blocks = [push.push(m, ad, tag) for m, ad, tag in CHUNKS]
    assert [len(b) for b in blocks] == [len(m) + prim.STREAM_ABYTES for m, _, _ in CHUNKS]
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, header, key)
    for block, (m, ad, tag) in zip(blocks, CHUNKS, strict=True):
        assert sodium.crypto_secretstream_xchacha20poly1305_pull(state, block, ad) == (m, tag)


def test_secretstream_failures_are_decryption_failed() -> None:
    key = os.urandom(32)
    header, blocks = _stock_push(key, CHUNKS)
    cases: list[tuple[bytes, list[bytes], list[bytes | None]]] = [
        (key, [blocks[0][:-1] + bytes([blocks[0][-1] ^ 1])], [b"file header"]),  # bit flip
        (key, [blocks[0]], [b"other header"]),                                  # wrong ad
        (key, [blocks[1]], [None]),                                             # reordered
        (bytes(32), [blocks[0]], [b"file header"]),                             # wrong key
        (key, [blocks[0][:prim.STREAM_ABYTES - 1]], [b"file header"]),          # stub
    ]
    for k, sequence, ads in cases:
        pull = prim.SecretStreamPull(k, header)
        with pytest.raises(DecryptionFailed):
            for block, ad in zip(sequence, ads, strict=True):
                pull.pull(block, ad)


def test_secretstream_key_and_header_lengths_are_checked() -> None:
    with pytest.raises(MalformedToken):
        prim.SecretStreamPush(bytes(31), bytes(prim.STREAM_HEADER_LEN))
    with pytest.raises(MalformedToken):
        prim.SecretStreamPull(bytes(32), bytes(prim.STREAM_HEADER_LEN - 1))


# --------------------------------------------------------------------------- AES-GCM, PBKDF2


def test_aes256gcm_decrypt_matches_and_fails_opaquely() -> None:
    key, nonce = os.urandom(32), os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, b"v1 body", b"patient")
    assert prim.aes256gcm_decrypt(key, nonce, sealed, b"patient") == b"v1 body"
    assert prim.aes256gcm_decrypt(bytearray(key), nonce, sealed, b"patient") == b"v1 body"
    for args in ((key, nonce, sealed, b"other"), (bytes(32), nonce, sealed, b"patient"),
                 (key, nonce, sealed[:-1], b"patient"), (key[:16], nonce, sealed, b"patient"),
                 (key, nonce, sealed[:15], b"patient"), (key, b"", sealed, b"patient")):
        with pytest.raises(DecryptionFailed):
            prim.aes256gcm_decrypt(*args)


@pytest.mark.parametrize(("password", "salt", "iterations", "length"), [
    (b"passwd", b"salt", 1, 64), (b"secret", b"\x00" * 16, 1000, 32), (b"", b"s", 2, 16)])
def test_pbkdf2_matches_hashlib(password: bytes, salt: bytes, iterations: int,
                                length: int) -> None:
    assert prim.pbkdf2_sha256(password, salt, iterations, length) == hashlib.pbkdf2_hmac(
        "sha256", password, salt, iterations, length)


# --------------------------------------------------------------------------- Argon2id


def test_argon2id_matches_pynacl_and_is_wipeable() -> None:
    salt = bytes(range(16))
    ops, mem = prim.ARGON2ID_OPSLIMIT_MIN, prim.ARGON2ID_MEMLIMIT_MIN
    key = prim.argon2id_derive(b"correct horse", salt, opslimit=ops, memlimit=mem)
    assert isinstance(key, bytearray)
    assert bytes(key) == argon2id.kdf(32, b"correct horse", salt, opslimit=ops, memlimit=mem)
    assert key != prim.argon2id_derive(b"correct horsf", salt, opslimit=ops, memlimit=mem)


def test_argon2id_refusals_are_project_errors() -> None:
    with pytest.raises(StorageError):
        prim.argon2id_derive(b"pw", bytes(16), opslimit=0, memlimit=prim.ARGON2ID_MEMLIMIT_MIN)
    with pytest.raises(MalformedToken):
        prim.argon2id_derive(b"pw", bytes(15), opslimit=2, memlimit=prim.ARGON2ID_MEMLIMIT_MIN)


# --------------------------------------------------------------------------- HMAC, AEAD dispatch


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=200), st.booleans(), st.binary(max_size=100), st.binary(max_size=100))
def test_hmac_sha256_pair_is_two_stdlib_hmacs(
    key: bytes, as_bytearray: bool, first: bytes, second: bytes,
) -> None:
    """The copied key schedule gives exactly what two independent HMACs give, for keys
    shorter and longer than SHA-256's block (hashed first) and for wipeable buffers."""
    buffer = bytearray(key) if as_bytearray else key
    assert prim.hmac_sha256_pair(buffer, first, second) == (
        hmac.new(key, first, "sha256").digest(), hmac.new(key, second, "sha256").digest())
    assert prim.hmac_sha256_pair(buffer, first, second)[0] == prim.hmac_sha256(buffer, first)


@pytest.mark.parametrize("size", [0, 256, prim.SODIUM_MAX])
def test_xchacha_small_path_refuses_bad_lengths_as_the_wrappers_do(size: int) -> None:
    """The dispatcher's written-out libsodium path keeps the checks of the wrappers it
    replaces: project errors, never PyNaCl's own."""
    key, nonce, aad = os.urandom(32), os.urandom(24), b"header"
    plain = os.urandom(size)
    sealed = prim.xchacha_encrypt(key, nonce, plain, aad)
    for bad_key, bad_nonce in ((key[:31], nonce), (key + b"\x00", nonce),
                               (key, nonce[:23]), (key, nonce + b"\x00")):
        with pytest.raises(MalformedToken):
            prim.xchacha_encrypt(bad_key, bad_nonce, plain, aad)
        with pytest.raises(MalformedToken):
            prim.xchacha_decrypt(bad_key, bad_nonce, sealed, aad)
    with pytest.raises(DecryptionFailed):
        prim.xchacha_decrypt(key, nonce, sealed[:15], aad)
    with pytest.raises(DecryptionFailed):
        prim.xchacha_decrypt(key, nonce, memoryview(sealed)[1:], aad)
    assert prim.xchacha_decrypt(key, nonce, memoryview(sealed), aad) == plain
    assert prim.xchacha_decrypt(bytearray(key), nonce, sealed, aad) == plain
