"""Token encrypt+decrypt: MEDCRYPT v2 versus the raw AEAD and a v1-style token.

``python -m bench.run tokens`` (or ``python -m bench.bench_tokens [--quick]``).

For each size (64 B, 1 KiB, 4 KiB, 64 KiB, 1 MiB) one round trip is measured as:

* ``raw xchacha (ours)``: the project's HChaCha20 + OpenSSL XChaCha20-Poly1305 encrypt and
  decrypt of the bare body - the floor every token construction pays;
* ``raw xchacha (libsodium)``: PyNaCl's XChaCha20-Poly1305, for the ADR's comparison;
* ``v1-style``: AES-256-GCM with a precomputed key, the earlier format's text
  ``[MEDCRYPT:v1:pid:nonce:ct:tag]`` built and split (colon-separated base64), written
  inline here - the format v2 replaces (its PBKDF2 key derivation is left out);
* ``v2 token``: :meth:`PairingSession.encrypt` then :meth:`PairingSession.decrypt`
  (envelope, Ed25519 signature and verification, padding, ratchet step, header, base64);
* ``of which Ed25519 sign+verify``: the signature floor v2 pays per message and v1 did not
  (DESIGN 3.2 requires sender signatures), measured alone.

A first table, "Ed25519 backends", times signing and verifying a 103-byte message (what
the envelope signs: label, header, SHA-256) through OpenSSL (``cryptography``) and
libsodium (PyNaCl), ratios against OpenSSL.  Ed25519 is deterministic, so both give the
same bytes; ``crypto._primitives`` uses whichever this table shows faster (libsodium).

Ratios are against the raw XChaCha in the same run.  Nothing here is asserted.
"""

from __future__ import annotations

import base64
import os
import sys

import nacl.bindings
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bench.harness import Measurement, measure, report
from medcrypt.crypto import _primitives as prim
from tests.support.sessions import make_pair

SIZES = [("64 B", 64), ("1 KiB", 1024), ("4 KiB", 4096), ("64 KiB", 65536), ("1 MiB", 1 << 20)]


def _v1_round_trip(key: AESGCM, pid: bytes, body: bytes) -> bytes:
    nonce = os.urandom(12)
    sealed = key.encrypt(nonce, body, pid)
    b64 = base64.b64encode
    token = (f"[MEDCRYPT:v1:{b64(pid).decode()}:{b64(nonce).decode()}:"
             f"{b64(sealed[:-16]).decode()}:{b64(sealed[-16:]).decode()}]")
    fields = token[len("[MEDCRYPT:v1:"):-1].split(":")
    p, n, c, t = (base64.b64decode(f) for f in fields)
    return key.decrypt(n, c + t, p)


def ed25519_backends(number: int, repeat: int) -> None:
    """Sign and verify through OpenSSL and libsodium: same bytes, which is faster here?"""
    seed, message = os.urandom(32), os.urandom(103)
    openssl_key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    public = openssl_key.public_key().public_bytes_raw()
    sodium_public, sodium_secret = nacl.bindings.crypto_sign_seed_keypair(seed)
    signature = openssl_key.sign(message)
    signer = prim.Ed25519Signer(seed)
    assert sodium_public == public == signer.public
    assert signer.sign(message) == signature
    assert nacl.bindings.crypto_sign(message, sodium_secret)[:64] == signature

    def openssl_verify() -> None:
        ed25519.Ed25519PublicKey.from_public_bytes(public).verify(signature, message)

    def sodium_verify() -> None:
        nacl.bindings.crypto_sign_open(signature + message, public)

    sign_base = measure("sign, OpenSSL (cryptography)", lambda: openssl_key.sign(message),
                        number=number, repeat=repeat)
    verify_base = measure("verify, OpenSSL (cryptography)", openssl_verify, number=number,
                          repeat=repeat)
    report("Ed25519 backends, 103-byte message (sign)", [
        sign_base,
        measure("sign, libsodium (PyNaCl)",
                lambda: nacl.bindings.crypto_sign(message, sodium_secret)[:64],
                number=number, repeat=repeat),
        measure("sign, project wrapper (Ed25519Signer)", lambda: signer.sign(message),
                number=number, repeat=repeat),
    ], baseline=sign_base)
    report("Ed25519 backends, 103-byte message (verify)", [
        verify_base,
        measure("verify, libsodium (PyNaCl)", sodium_verify, number=number, repeat=repeat),
        measure("verify, project wrapper (ed25519_verify)",
                lambda: prim.ed25519_verify(public, message, signature),
                number=number, repeat=repeat),
    ], baseline=verify_base)


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    ed25519_backends(number=200 if not quick else 50, repeat=5 if not quick else 3)
    pair = make_pair("bench", escrow=True)
    v1_key = AESGCM(os.urandom(32))
    pid = b"patient-000123"
    key, nonce, aad = os.urandom(32), os.urandom(24), os.urandom(51)
    signer = prim.Ed25519Signer(key)
    for label, size in SIZES:
        body = os.urandom(size // 2).hex().encode()  # a TEXT body must be UTF-8 (PROTOCOL §8)
        number = max(3, (2000 if not quick else 200) * 64 // max(size, 64 * 16) + 3)
        repeat = 5 if not quick else 3

        def raw_ours(body: bytes = body) -> bytes:
            return prim.xchacha_decrypt(key, nonce, prim.xchacha_encrypt(key, nonce, body, aad),
                                        aad)

        def raw_sodium(body: bytes = body) -> bytes:
            sealed = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(body, aad, nonce, key)
            return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(sealed, aad, nonce, key)

        def v1(body: bytes = body) -> bytes:
            return _v1_round_trip(v1_key, pid, body)

        def v2(body: bytes = body) -> bytes:
            token = pair.patient.encrypt(body, clock=pair.clock).token
            return pair.physician.decrypt(token, clock=pair.clock).body

        def signature(digest: bytes = key) -> None:
            prim.ed25519_verify(signer.public, digest, signer.sign(digest))

        assert raw_ours() == body and raw_sodium() == body and v1() == body and v2() == body
        base = measure(f"raw xchacha (ours) {label}", raw_ours, number=number, repeat=repeat)
        rows: list[Measurement] = [
            base,
            measure(f"raw xchacha (libsodium) {label}", raw_sodium, number=number, repeat=repeat),
            measure(f"v1-style AES-GCM token {label}", v1, number=number, repeat=repeat),
            measure(f"v2 token {label}", v2, number=number, repeat=repeat),
            measure(f"  of which Ed25519 sign+verify {label}", signature, number=number,
                    repeat=repeat),
        ]
        report(f"token round trip, {label} body", rows, baseline=base)
        v1_us, v2_us = rows[2].per_op_us, rows[3].per_op_us
        print(f"v2 / v1 at {label}: {v2_us / v1_us:.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
