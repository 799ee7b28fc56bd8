"""The only module that calls PyNaCl or ``cryptography`` directly.

Everything above this module speaks in protocol terms (seal a token, derive a chain
key); everything here is a thin, typed wrapper that turns library exceptions into the
project's own (:class:`~crypto.errors.DecryptionFailed` for every authentication
failure, :class:`~crypto.errors.MalformedToken` for unusable key material), so a
library upgrade or swap touches one file.

XChaCha20-Poly1305 is built as HChaCha20 + the IETF ChaCha20-Poly1305 AEAD of OpenSSL
(through ``cryptography``), exactly as draft-irtf-cfrg-xchacha-03 section 2.3 defines
it; OpenSSL's AEAD is several times faster than libsodium's XChaCha20 through PyNaCl for
large messages (docs/adr/0001-xchacha-construction.md).  HChaCha20 itself is not
hand-rolled either: ``cryptography``'s raw ChaCha20 keystream block 0 is
``permute(state) + state`` word by word, so subtracting the known input words (the four
constants and the 16 nonce bytes) leaves HChaCha20's output words.  The vectors of the
draft and Wycheproof, and a property test against libsodium, prove byte identity.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions
import nacl.public
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from nacl.pwhash import argon2id

from medcrypt.crypto.errors import DecryptionFailed, MalformedToken, StorageError

try:  # CPython's OpenSSL binding (what ``hmac`` uses); absent only without OpenSSL hashlib
    from _hashlib import hmac_new as _openssl_hmac_new
except ImportError:  # pragma: no cover - hmac.digest below is the same function
    _openssl_hmac_new = None  # type: ignore[assignment]

Rng = Callable[[int], bytes]

KEY_LEN = 32
XNONCE_LEN = 24
TAG_LEN = 16
X25519_LEN = 32
ED25519_SIG_LEN = 64
ED25519_PUBLIC_LEN = 32
SEALED_BOX_OVERHEAD = 48  # ephemeral public key 32 + Poly1305 tag 16

_SIGMA = b"expand 32-byte k"
_SIGMA_WORDS = struct.unpack("<4I", _SIGMA)
_WORDS16 = struct.Struct("<16I")
_WORDS4 = struct.Struct("<4I")
_ZERO_BLOCK = bytes(64)
_MASK32 = 0xFFFFFFFF


def _need(value: bytes | bytearray, length: int, what: str) -> None:
    if len(value) != length:
        raise MalformedToken(f"{what} must be {length} bytes")


# --------------------------------------------------------------------------- AEAD


def hchacha20(key: bytes | bytearray, nonce16: bytes) -> bytes:
    """HChaCha20 (draft-irtf-cfrg-xchacha-03 2.2) via one raw ChaCha20 keystream block.

    ``cryptography``'s ChaCha20 takes a 16-byte "nonce" that is state words 12..15
    (block counter and nonce), so block 0 of its keystream is ``permute(S) + S`` for
    ``S = sigma | key | nonce16``.  HChaCha20 outputs ``permute(S)`` words 0..3 and
    12..15, recovered by subtracting the known input words modulo 2**32.
    """
    _need(key, KEY_LEN, "key")
    _need(nonce16, 16, "HChaCha20 nonce")
    encryptor = Cipher(algorithms.ChaCha20(bytes(key), nonce16), mode=None).encryptor()
    block = _WORDS16.unpack(encryptor.update(_ZERO_BLOCK))
    nonce_words = _WORDS4.unpack(nonce16)
    head = [(block[i] - _SIGMA_WORDS[i]) & _MASK32 for i in range(4)]
    tail = [(block[12 + i] - nonce_words[i]) & _MASK32 for i in range(4)]
    return struct.pack("<8I", *head, *tail)


#: Up to this many bytes libsodium's XChaCha20-Poly1305 is faster (no per-call Python
#: object set-up); above it the HChaCha20 + OpenSSL construction is (ADR 0001).  Both
#: produce identical bytes, and tests/crypto/test_primitives.py runs every vector
#: through both paths.
SODIUM_MAX = 16 * 1024


def _ietf_cipher(key: bytes | bytearray, nonce: bytes) -> tuple[ChaCha20Poly1305, bytes]:
    _need(nonce, XNONCE_LEN, "nonce")
    subkey = hchacha20(key, nonce[:16])
    return ChaCha20Poly1305(subkey), b"\x00\x00\x00\x00" + nonce[16:]


def xchacha_encrypt_openssl(
    key: bytes | bytearray, nonce: bytes, plaintext: bytes, aad: bytes,
) -> bytes:
    """XChaCha20-Poly1305 as HChaCha20 + OpenSSL's IETF ChaCha20-Poly1305."""
    cipher, nonce12 = _ietf_cipher(key, nonce)
    return cipher.encrypt(nonce12, plaintext, aad)


def xchacha_decrypt_openssl(
    key: bytes | bytearray, nonce: bytes, sealed: bytes | memoryview, aad: bytes,
) -> bytes:
    if len(sealed) < TAG_LEN:
        raise DecryptionFailed
    cipher, nonce12 = _ietf_cipher(key, nonce)
    try:
        return cipher.decrypt(nonce12, sealed, aad)
    except InvalidTag:
        raise DecryptionFailed from None


def xchacha_encrypt_sodium(
    key: bytes | bytearray, nonce: bytes, plaintext: bytes, aad: bytes,
) -> bytes:
    """XChaCha20-Poly1305 from libsodium (PyNaCl)."""
    _need(key, KEY_LEN, "key")
    _need(nonce, XNONCE_LEN, "nonce")
    return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, aad, nonce, bytes(key))


def xchacha_decrypt_sodium(
    key: bytes | bytearray, nonce: bytes, sealed: bytes, aad: bytes,
) -> bytes:
    _need(key, KEY_LEN, "key")
    _need(nonce, XNONCE_LEN, "nonce")
    if len(sealed) < TAG_LEN:
        raise DecryptionFailed
    try:
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            sealed, aad, nonce, bytes(key))
    except nacl.exceptions.CryptoError:
        raise DecryptionFailed from None


_sodium_encrypt = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt
_sodium_decrypt = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt


def xchacha_encrypt(key: bytes | bytearray, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AEAD_XChaCha20_Poly1305 encryption; returns ``ciphertext || tag``.

    The small case is :func:`xchacha_encrypt_sodium` written out (same checks, same
    call): every message pays this wrapper, and the extra frames cost as much as the
    AEAD of a short message.
    """
    if len(plaintext) <= SODIUM_MAX:
        if len(key) != KEY_LEN or len(nonce) != XNONCE_LEN:  # _need's refusal, off the fast path
            _need(key, KEY_LEN, "key")
            _need(nonce, XNONCE_LEN, "nonce")
        return _sodium_encrypt(plaintext, aad, nonce, bytes(key))
    return xchacha_encrypt_openssl(key, nonce, plaintext, aad)


def xchacha_decrypt(
    key: bytes | bytearray, nonce: bytes, sealed: bytes | memoryview, aad: bytes,
) -> bytes:
    """AEAD_XChaCha20_Poly1305 decryption; any failure is :class:`DecryptionFailed`.

    ``sealed`` may be a memoryview into a larger token, so a 1 MiB body is not copied
    out of the token before OpenSSL reads it.
    """
    if len(sealed) <= SODIUM_MAX + TAG_LEN:  # xchacha_decrypt_sodium, written out
        if len(key) != KEY_LEN or len(nonce) != XNONCE_LEN:  # _need's refusal, off the fast path
            _need(key, KEY_LEN, "key")
            _need(nonce, XNONCE_LEN, "nonce")
        if len(sealed) < TAG_LEN:
            raise DecryptionFailed
        try:
            return _sodium_decrypt(bytes(sealed), aad, nonce, bytes(key))
        except nacl.exceptions.CryptoError:
            raise DecryptionFailed from None
    return xchacha_decrypt_openssl(key, nonce, sealed, aad)


# --------------------------------------------------------------------------- hashes, KDF


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sha512(data: bytes) -> bytes:
    return hashlib.sha512(data).digest()


def hmac_sha256(key: bytes | bytearray, message: bytes) -> bytes:
    # OpenSSL's HMAC-SHA256 either way, same bytes as hmac.new(...).digest().  The HMAC
    # object of CPython's ``_hashlib`` (the one ``hmac.new`` wraps, without the Python
    # class around it) costs ~60 % of ``hmac.digest``: OpenSSL 3's one-shot HMAC() looks
    # the algorithm up by name on every call.  The ratchet runs two per message on each
    # side (through hmac_sha256_pair below).
    if _openssl_hmac_new is not None:
        return _openssl_hmac_new(key, message, "sha256").digest()
    return hmac.digest(key, message, "sha256")


def hmac_sha256_pair(
    key: bytes | bytearray, first: bytes, second: bytes,
) -> tuple[bytes, bytes]:
    """``(HMAC-SHA256(key, first), HMAC-SHA256(key, second))``, the same bytes as two
    :func:`hmac_sha256` calls, with the key schedule (the padded key's two blocks and
    OpenSSL's context set-up) done once and copied: a chain step is two HMACs under one
    key, and every message takes one on each side."""
    if _openssl_hmac_new is None:  # pragma: no cover - see the import above
        return hmac.digest(key, first, "sha256"), hmac.digest(key, second, "sha256")
    keyed = _openssl_hmac_new(key, b"", "sha256")
    other = keyed.copy()
    keyed.update(first)
    other.update(second)
    return keyed.digest(), other.digest()


#: One hash-algorithm value for every HKDF: it is an immutable descriptor (name and
#: sizes), and building it per call was a fifth of a 32-byte HKDF's cost.
_SHA256 = hashes.SHA256()


def hkdf_sha256(
    ikm: bytes | bytearray, *, salt: bytes | None, info: bytes, length: int = 32,
) -> bytes:
    """RFC 5869 HKDF-SHA256 (``salt=None`` means HashLen zero bytes, as in the RFC).

    ``cryptography``'s HKDF (Rust over OpenSSL's HMAC); its object is single-use by
    design, so one is built per derivation.  The key material is passed as it comes:
    the library takes any buffer, a ``bytearray`` key needs no copy.
    """
    return HKDF(_SHA256, length, salt, info).derive(ikm)


def constant_time_equal(a: bytes | bytearray, b: bytes | bytearray) -> bool:
    return hmac.compare_digest(bytes(a), bytes(b))


def wipe(buffer: bytearray | None) -> None:
    """Overwrite a key buffer with zeros (best effort: Python may hold other copies)."""
    if buffer is not None:
        buffer[:] = bytes(len(buffer))


# --------------------------------------------------------------------------- X25519


def x25519_public(private: bytes | bytearray) -> bytes:
    """libsodium's ``crypto_scalarmult_base``: the same RFC 7748 bytes as OpenSSL's, and
    the one the web companion's libsodium.js computes. (``cryptography``'s
    ``X25519PrivateKey.from_private_bytes`` derives the public key on every load: it was
    a fifth of a chain-starting message's CPU.)"""
    _need(private, X25519_LEN, "X25519 private key")
    return nacl.bindings.crypto_scalarmult_base(bytes(private))


def x25519_shared(private: bytes | bytearray, peer_public: bytes) -> bytes:
    """Raw X25519 (libsodium ``crypto_scalarmult``); a low-order peer key is refused as
    malformed. libsodium refuses small-order points and an all-zero result itself (it
    returns -1, which PyNaCl raises as RuntimeError); the all-zero check stays as a
    second, constant-time guard."""
    _need(private, X25519_LEN, "X25519 private key")
    _need(peer_public, X25519_LEN, "X25519 public key")
    try:
        shared = nacl.bindings.crypto_scalarmult(bytes(private), bytes(peer_public))
    except nacl.exceptions.RuntimeError:
        raise MalformedToken("X25519 public key is of low order") from None
    if constant_time_equal(shared, bytes(X25519_LEN)):
        raise MalformedToken("X25519 public key is of low order")
    return shared


# --------------------------------------------------------------------------- Ed25519
#
# libsodium rather than OpenSSL: Ed25519 is deterministic (RFC 8032), so both give the
# same signature bytes, and on the project machine libsodium through PyNaCl signs and
# verifies about twice as fast as OpenSSL through ``cryptography`` (``python -m bench.run
# tokens``, "Ed25519 backends"; figures in docs/adr/0001).  libsodium's verification is the
# strict one (canonical S and encodings, no small-order keys); every Wycheproof case
# gives the expected answer through this wrapper (tests/crypto/test_primitives.py).


def _ed25519_secret(seed: bytes | bytearray) -> tuple[bytes, bytes]:
    _need(seed, 32, "Ed25519 seed")
    public, secret = nacl.bindings.crypto_sign_seed_keypair(bytes(seed))
    return public, secret


def ed25519_public(seed: bytes | bytearray) -> bytes:
    return _ed25519_secret(seed)[0]


def ed25519_sign(seed: bytes | bytearray, message: bytes) -> bytes:
    return nacl.bindings.crypto_sign(message, _ed25519_secret(seed)[1])[:ED25519_SIG_LEN]


class Ed25519Signer:
    """A loaded Ed25519 signing key (expanding the seed costs as much as one signature)."""

    __slots__ = ("_secret", "public")

    def __init__(self, seed: bytes | bytearray) -> None:
        self.public, self._secret = _ed25519_secret(seed)

    def sign(self, message: bytes) -> bytes:
        # crypto_sign returns signature || message; the signature is the first 64 bytes.
        return nacl.bindings.crypto_sign(message, self._secret)[:ED25519_SIG_LEN]


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> None:
    """Raise :class:`DecryptionFailed` unless ``signature`` is valid (opaque on purpose)."""
    if len(public) != 32 or len(signature) != ED25519_SIG_LEN:
        raise DecryptionFailed
    try:
        nacl.bindings.crypto_sign_open(bytes(signature) + message, bytes(public))
    except nacl.exceptions.CryptoError:
        raise DecryptionFailed from None


@dataclass(frozen=True, slots=True)
class Ed25519PublicKey:
    """A raw 32-byte Ed25519 public key as a value: comparable, hashable, picklable.

    Why a value type and not the library's key object: callers outside this module
    (the audit verifier, its storage adapters and CLI) keep keys in mappings and
    annotate them, and must not import PyNaCl or ``cryptography`` to do so.  Only the
    length is checked on construction (as OpenSSL's raw-key loader does); a key that is
    not a valid point, or is of small order, simply verifies nothing.
    """

    raw: bytes

    def __post_init__(self) -> None:
        _need(self.raw, ED25519_PUBLIC_LEN, "Ed25519 public key")
        object.__setattr__(self, "raw", bytes(self.raw))

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Strict libsodium verification (see above); ``False`` on any failure."""
        try:
            ed25519_verify(self.raw, message, signature)
        except DecryptionFailed:
            return False
        return True


# --------------------------------------------------------------------------- sealed box


def sealed_box_seal(recipient_public: bytes, message: bytes, *, rng: Rng = os.urandom) -> bytes:
    """libsodium ``crypto_box_seal``, with the ephemeral key drawn from ``rng``.

    Byte-identical to libsodium's (``epk || crypto_box(m, blake2b(epk || pk, 24), pk, esk)``)
    so :class:`nacl.public.SealedBox` opens it; drawing the ephemeral key from an injected
    RNG is what lets the escrow deposit have fixed test vectors.

    With the OS RNG (every real deposit) the whole box is libsodium's own
    ``crypto_box_seal``, which draws the ephemeral key from the OS itself: one call
    instead of three binding calls, each re-checking and formatting its arguments (a
    sixth of the seal's CPU, on every chain-starting message).
    """
    _need(recipient_public, X25519_LEN, "escrow public key")
    if rng is os.urandom:
        return nacl.bindings.crypto_box_seal(bytes(message), bytes(recipient_public))
    esk = bytearray(rng(X25519_LEN))
    try:
        epk = nacl.bindings.crypto_scalarmult_base(bytes(esk))
        nonce = nacl.bindings.crypto_generichash_blake2b_salt_personal(
            epk + recipient_public, digest_size=24)
        boxed = nacl.bindings.crypto_box(message, nonce, recipient_public, bytes(esk))
    finally:
        wipe(esk)
    return epk + boxed


def sealed_box_open(recipient_private: bytes | bytearray, sealed: bytes) -> bytes:
    """Open a libsodium sealed box; any failure is :class:`DecryptionFailed`."""
    _need(recipient_private, X25519_LEN, "escrow private key")
    if len(sealed) < SEALED_BOX_OVERHEAD:
        raise DecryptionFailed
    box = nacl.public.SealedBox(nacl.public.PrivateKey(bytes(recipient_private)))
    try:
        return box.decrypt(sealed)
    except (nacl.exceptions.CryptoError, nacl.exceptions.TypeError, ValueError):
        raise DecryptionFailed from None


# --------------------------------------------------------------------------- AES-GCM, PBKDF2 (v1)


def aes256gcm_decrypt(key: bytes | bytearray, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    """AES-256-GCM open of ``ciphertext || tag`` (read-only v1 tokens); failure is opaque."""
    if len(key) != KEY_LEN or len(sealed) < TAG_LEN or not 8 <= len(nonce) <= 128:
        raise DecryptionFailed
    try:
        return AESGCM(bytes(key)).decrypt(nonce, sealed, aad)
    except InvalidTag:
        raise DecryptionFailed from None


def pbkdf2_sha256(password: bytes, salt: bytes, iterations: int, length: int = KEY_LEN) -> bytes:
    """PBKDF2-HMAC-SHA256 (RFC 8018), OpenSSL's implementation."""
    return PBKDF2HMAC(hashes.SHA256(), length, salt, iterations).derive(password)


# --------------------------------------------------------------------------- Argon2id

ARGON2ID_SALT_LEN: int = argon2id.SALTBYTES
ARGON2ID_OPSLIMIT_INTERACTIVE: int = argon2id.OPSLIMIT_INTERACTIVE
ARGON2ID_MEMLIMIT_INTERACTIVE: int = argon2id.MEMLIMIT_INTERACTIVE
ARGON2ID_OPSLIMIT_MIN: int = argon2id.OPSLIMIT_MIN
ARGON2ID_MEMLIMIT_MIN: int = argon2id.MEMLIMIT_MIN


def argon2id_derive(
    password: bytes, salt: bytes, *, opslimit: int, memlimit: int, length: int = KEY_LEN,
) -> bytearray:
    """libsodium ``crypto_pwhash`` (Argon2id v1.3) into a wipeable buffer.

    Parameters libsodium refuses, or memory it cannot allocate, are a
    :class:`StorageError`: the only caller derives a keystore key from a file header.
    """
    _need(salt, ARGON2ID_SALT_LEN, "Argon2id salt")
    try:
        return bytearray(argon2id.kdf(length, password, salt, opslimit=opslimit,
                                      memlimit=memlimit))
    except nacl.exceptions.CryptoError:
        raise StorageError("Argon2id failed (parameters out of range or out of memory)") from None


# --------------------------------------------------------------------------- secretstream
#
# libsodium crypto_secretstream_xchacha20poly1305, for the attachment container.

STREAM_HEADER_LEN: int = nacl.bindings.crypto_secretstream_xchacha20poly1305_HEADERBYTES
#: Per-chunk expansion: 1 encrypted tag byte + 16-byte Poly1305 MAC.
STREAM_ABYTES: int = nacl.bindings.crypto_secretstream_xchacha20poly1305_ABYTES
STREAM_TAG_MESSAGE: int = nacl.bindings.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
STREAM_TAG_FINAL: int = nacl.bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL


_StreamState = nacl.bindings.crypto_secretstream_xchacha20poly1305_state


def _stream_state(header: bytes, key: bytes | bytearray) -> _StreamState:
    _need(key, KEY_LEN, "secretstream key")
    _need(header, STREAM_HEADER_LEN, "secretstream header")
    state = _StreamState()
    nacl.bindings.crypto_secretstream_xchacha20poly1305_init_pull(state, bytes(header),
                                                                  bytes(key))
    return state


class SecretStreamPush:
    """The encrypting side of a secretstream whose 24-byte header the caller chose.

    Why not ``init_push``: it draws the header from libsodium's own RNG, which cannot be
    injected.  ``init_pull`` performs the identical state set-up (HChaCha20 subkey from
    header bytes 0..15, counter 1, bytes 16..23 as the nonce prefix) from a given header,
    so a push state initialised by it produces exactly what ``init_push`` would have
    produced with that header - which is what lets vectors pin the container bytes.
    """

    __slots__ = ("_state",)

    def __init__(self, key: bytes | bytearray, header: bytes) -> None:
        self._state = _stream_state(header, key)

    def push(self, chunk: bytes, ad: bytes | None, tag: int) -> bytes:
        """Encrypt one chunk (``len(chunk) + STREAM_ABYTES`` bytes out)."""
        return nacl.bindings.crypto_secretstream_xchacha20poly1305_push(
            self._state, bytes(chunk), ad, tag)


class SecretStreamPull:
    """The decrypting side of a secretstream; every failure is :class:`DecryptionFailed`."""

    __slots__ = ("_state",)

    def __init__(self, key: bytes | bytearray, header: bytes) -> None:
        self._state = _stream_state(header, key)

    def pull(self, block: bytes, ad: bytes | None) -> tuple[bytes, int]:
        """Authenticate and decrypt one chunk; returns ``(plaintext, tag)``."""
        if len(block) < STREAM_ABYTES:
            raise DecryptionFailed
        try:
            return nacl.bindings.crypto_secretstream_xchacha20poly1305_pull(
                self._state, bytes(block), ad)
        except nacl.exceptions.CryptoError:
            raise DecryptionFailed from None


# --------------------------------------------------------------------------- state encoding


def b64e(data: bytes | bytearray) -> str:
    """Standard base64 with padding, for the JSON-typed state dictionaries."""
    return base64.b64encode(bytes(data)).decode("ascii")


def b64d(text: object, length: int | None = None) -> bytes:
    """Strict inverse of :func:`b64e`; a damaged state is a :class:`StorageError`."""
    if not isinstance(text, str):
        raise StorageError("session state holds a non-text value where bytes belong")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise StorageError("session state holds invalid base64") from None
    if length is not None and len(data) != length:
        raise StorageError("session state holds a value of the wrong length")
    return data
