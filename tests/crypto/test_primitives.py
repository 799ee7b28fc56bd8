"""The project's own wrappers reproduce third-party known answers byte for byte.

Vectors are copies in tests/vectors/third_party/ (sources and licences in
tests/vectors/README.md).  XChaCha20-Poly1305 is the project's HChaCha20 + OpenSSL
construction, so these tests are what proves it identical to libsodium's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nacl.bindings
import nacl.public
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from hypothesis import given, settings
from hypothesis import strategies as st

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.errors import DecryptionFailed, MalformedToken

THIRD = Path(__file__).resolve().parents[1] / "vectors" / "third_party"


def _load(name: str) -> Any:
    return json.loads((THIRD / name).read_text())


def _tests(name: str) -> list[dict[str, Any]]:
    return [dict(t, _group=g) for g in _load(name)["testGroups"] for t in g["tests"]]


def h(x: str) -> bytes:
    return bytes.fromhex(x)


DRAFT = _load("xchacha_draft.json")


@pytest.mark.parametrize("v", DRAFT["hchacha20"])
def test_hchacha20_draft_vector(v: dict[str, str]) -> None:
    assert prim.hchacha20(h(v["key"]), h(v["nonce16"])) == h(v["subkey"])


PATHS = {
    "dispatch": (prim.xchacha_encrypt, prim.xchacha_decrypt),
    "openssl": (prim.xchacha_encrypt_openssl, prim.xchacha_decrypt_openssl),
    "sodium": (prim.xchacha_encrypt_sodium, prim.xchacha_decrypt_sodium),
}


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("v", DRAFT["aead_xchacha20_poly1305"])
def test_xchacha_aead_draft_vector(v: dict[str, str], path: str) -> None:
    encrypt, decrypt = PATHS[path]
    key, iv, aad, pt = h(v["key"]), h(v["iv"]), h(v["aad"]), h(v["plaintext"])
    sealed = encrypt(key, iv, pt, aad)
    assert sealed == h(v["ciphertext"]) + h(v["tag"])
    assert decrypt(key, iv, sealed, aad) == pt


@pytest.mark.parametrize("v", DRAFT["xchacha20_stream"])
def test_xchacha_subkey_matches_draft_stream_vector(v: dict[str, Any]) -> None:
    # XChaCha20 keystream = ChaCha20(HChaCha20(key, iv[:16]), 0^4 || iv[16:]) from counter.
    subkey = prim.hchacha20(h(v["key"]), h(v["iv"])[:16])
    nonce16 = v["counter"].to_bytes(4, "little") + b"\x00" * 4 + h(v["iv"])[16:]
    stream = Cipher(algorithms.ChaCha20(subkey, nonce16), None).encryptor().update(
        bytes(len(h(v["keystream"]))))
    assert stream == h(v["keystream"])


@pytest.mark.parametrize("path", ["openssl", "sodium"])
@pytest.mark.parametrize("case", _tests("wycheproof_xchacha20_poly1305_test.json"),
                         ids=lambda c: str(c["tcId"]))
def test_wycheproof_xchacha(case: dict[str, Any], path: str) -> None:
    encrypt, decrypt = PATHS[path]
    key, iv, aad, msg = h(case["key"]), h(case["iv"]), h(case["aad"]), h(case["msg"])
    sealed = h(case["ct"]) + h(case["tag"])
    if case["result"] == "valid":
        assert encrypt(key, iv, msg, aad) == sealed
        assert decrypt(key, iv, sealed, aad) == msg
    else:
        with pytest.raises((DecryptionFailed, MalformedToken)):
            decrypt(key, iv, sealed, aad)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.binary(min_size=24, max_size=24),
       st.binary(max_size=2048) | st.integers(prim.SODIUM_MAX - 2, prim.SODIUM_MAX + 70000).map(
           lambda n: bytes(range(256)) * (n // 256) + bytes(n % 256)),
       st.binary(max_size=64))
def test_xchacha_identical_to_libsodium(key: bytes, nonce: bytes, msg: bytes, aad: bytes) -> None:
    ours = prim.xchacha_encrypt_openssl(key, nonce, msg, aad)
    theirs = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(msg, aad, nonce, key)
    assert ours == theirs
    assert prim.xchacha_decrypt_openssl(key, nonce, theirs, aad) == msg
    assert prim.xchacha_encrypt(key, nonce, msg, aad) == theirs
    assert prim.xchacha_decrypt(key, nonce, theirs, aad) == msg


@pytest.mark.parametrize("path", sorted(PATHS))
def test_xchacha_rejects_tampering(path: str) -> None:
    encrypt, decrypt = PATHS[path]
    key, nonce = bytes(32), bytes(24)
    sealed = encrypt(key, nonce, b"secret", b"aad")
    for i in range(len(sealed)):
        bad = bytearray(sealed)
        bad[i] ^= 0x80
        with pytest.raises(DecryptionFailed):
            decrypt(key, nonce, bytes(bad), b"aad")
    with pytest.raises(DecryptionFailed):
        decrypt(key, nonce, sealed, b"aaD")
    with pytest.raises(DecryptionFailed):
        decrypt(key, nonce, sealed[:10], b"aad")
    with pytest.raises(MalformedToken):
        decrypt(key, nonce[:12], sealed, b"aad")


@pytest.mark.parametrize("case", _load("hkdf_rfc5869.json")["tests"][:3],
                         ids=lambda c: str(c["tcId"]))
def test_hkdf_rfc5869(case: dict[str, Any]) -> None:
    salt = None if case["salt"] is None else h(case["salt"])
    okm = prim.hkdf_sha256(h(case["ikm"]), salt=salt, info=h(case["info"]), length=case["L"])
    assert okm == h(case["okm"])


@pytest.mark.parametrize("case", _tests("wycheproof_hkdf_sha256_test.json"),
                         ids=lambda c: str(c["tcId"]))
def test_wycheproof_hkdf(case: dict[str, Any]) -> None:
    args = {"salt": h(case["salt"]), "info": h(case["info"]), "length": case["size"]}
    if case["result"] == "valid":
        assert prim.hkdf_sha256(h(case["ikm"]), **args) == h(case["okm"])
    else:
        with pytest.raises(ValueError, match=r"\S"):
            prim.hkdf_sha256(h(case["ikm"]), **args)


@pytest.mark.parametrize("case", _tests("wycheproof_x25519_test.json"),
                         ids=lambda c: str(c["tcId"]))
def test_wycheproof_x25519(case: dict[str, Any]) -> None:
    private, public, shared = h(case["private"]), h(case["public"]), h(case["shared"])
    if shared == bytes(32):
        # Low-order peer keys are refused on purpose: a pairing must never agree on zero.
        with pytest.raises(MalformedToken):
            prim.x25519_shared(private, public)
    else:
        assert prim.x25519_shared(private, public) == shared


@given(private=st.binary(min_size=32, max_size=32), peer=st.binary(min_size=32, max_size=32))
def test_x25519_agrees_with_openssl(private: bytes, peer: bytes) -> None:
    """prim's X25519 is libsodium's; OpenSSL (through ``cryptography``) is an independent
    implementation of RFC 7748 and must give the same bytes for any key."""
    from cryptography.hazmat.primitives.asymmetric import x25519

    theirs = x25519.X25519PrivateKey.from_private_bytes(private)
    assert prim.x25519_public(private) == theirs.public_key().public_bytes_raw()
    try:
        expected = theirs.exchange(x25519.X25519PublicKey.from_public_bytes(peer))
    except ValueError:  # OpenSSL refuses an all-zero result
        expected = bytes(32)
    if expected == bytes(32):
        with pytest.raises(MalformedToken):
            prim.x25519_shared(private, peer)
    else:
        assert prim.x25519_shared(private, peer) == expected


@pytest.mark.parametrize("case", _tests("wycheproof_ed25519_test.json"),
                         ids=lambda c: str(c["tcId"]))
def test_wycheproof_ed25519_verify(case: dict[str, Any]) -> None:
    pk = h(case["_group"]["publicKey"]["pk"])
    if case["result"] == "valid":
        prim.ed25519_verify(pk, h(case["msg"]), h(case["sig"]))
    else:
        with pytest.raises(DecryptionFailed):
            prim.ed25519_verify(pk, h(case["msg"]), h(case["sig"]))


def test_ed25519_rfc8032_test1_sign() -> None:
    # RFC 8032 7.1 TEST 1 (the same key/signature is Wycheproof tcId 1's group).
    seed = h("9d61b19d effd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60".replace(" ", ""))
    public = h("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    sig = h("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39"
            "701cf9b46bd25bf5f0595bbe24655141438e7a100b")
    assert prim.ed25519_public(seed) == public
    assert prim.ed25519_sign(seed, b"") == sig
    prim.ed25519_verify(public, b"", sig)


def test_sealed_box_interoperates_with_libsodium() -> None:
    recipient = nacl.public.PrivateKey(bytes(range(32)))
    ours = prim.sealed_box_seal(bytes(recipient.public_key), b"epoch key",
                                rng=lambda n: b"\x07" * n)
    assert nacl.public.SealedBox(recipient).decrypt(ours) == b"epoch key"
    theirs = nacl.public.SealedBox(recipient.public_key).encrypt(b"other")
    assert prim.sealed_box_open(bytes(recipient), theirs) == b"other"
    with pytest.raises(DecryptionFailed):
        prim.sealed_box_open(bytes(32), ours)
    with pytest.raises(DecryptionFailed):
        prim.sealed_box_open(bytes(recipient), ours[:-1] + bytes([ours[-1] ^ 1]))


def test_sealed_box_with_the_os_rng_is_libsodiums_and_fresh_each_time() -> None:
    """The default RNG takes libsodium's own crypto_box_seal: same format (the written-
    out path and libsodium open it), a new ephemeral key per box, the key checked."""
    recipient = nacl.public.PrivateKey(bytes(range(32)))
    message = bytes(range(186))
    first = prim.sealed_box_seal(bytes(recipient.public_key), message)
    second = prim.sealed_box_seal(bytes(recipient.public_key), bytearray(message))
    assert len(first) == len(message) + prim.SEALED_BOX_OVERHEAD
    assert first[:32] != second[:32]
    for box in (first, second):
        assert prim.sealed_box_open(bytes(recipient), box) == message
        assert nacl.public.SealedBox(recipient).decrypt(box) == message
    with pytest.raises(MalformedToken):
        prim.sealed_box_seal(bytes(31), message)


def test_signer_matches_one_shot_signing() -> None:
    signer = prim.Ed25519Signer(b"\x05" * 32)
    assert signer.public == prim.ed25519_public(b"\x05" * 32)
    assert signer.sign(b"m") == prim.ed25519_sign(b"\x05" * 32, b"m")


def test_wipe_and_compare() -> None:
    buf = bytearray(b"secret key bytes")
    prim.wipe(buf)
    assert buf == bytearray(len(buf))
    prim.wipe(None)
    assert prim.constant_time_equal(b"ab", bytearray(b"ab"))
    assert not prim.constant_time_equal(b"ab", b"ac")
