"""Encrypted column vs raw AEAD: what the server keyring costs per phone number.

Measured in one run, so the ratio is meaningful on any machine:

* raw AEAD - one XChaCha20-Poly1305 encrypt + decrypt of a 13-byte phone number
  through PyNaCl with a fixed key (the floor);
* keyring seal+open - the same plus version header, random nonce and length-prefixed
  AAD (table, column, row id);
* encrypted column store+reveal - what the ORM path does: normalize-free store on a
  model instance (seal + blind index) and reveal;
* blind index - the HMAC computed for every lookup.
"""

from __future__ import annotations

import argparse
import os

import nacl.bindings

from bench.harness import measure, report
from medcrypt.crypto.server.keyring import Keyring, generate_key
from medcrypt.storage.encrypted import new_id
from medcrypt.storage.models.identities import PlatformIdentity

PHONE = "+491512345678"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_keyring")
    parser.add_argument("--number", type=int, default=2000, help="calls per round")
    parser.add_argument("--repeat", type=int, default=7, help="rounds (median is reported)")
    args, _ = parser.parse_known_args(argv)

    key = os.urandom(32)
    aad = b"platform_identities|address|" + b"0" * 32
    data = PHONE.encode()

    def raw_aead() -> None:
        nonce = os.urandom(24)
        ct = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(data, aad, nonce, key)
        nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ct, aad, nonce, key)

    ring = Keyring.from_env_value(f"2:{generate_key()},1:{generate_key()}")
    parts = ("platform_identities", "address", new_id())

    def keyring_seal_open() -> None:
        ring.open(ring.seal(data, parts), parts)

    row = PlatformIdentity(id=new_id(), platform="whatsapp", role="patient")
    field = PlatformIdentity.ADDRESS

    def column_store_reveal() -> None:
        field.store(row, ring, PHONE)
        field.reveal(row, ring)

    def blind_index() -> None:
        field.index_of(ring, PHONE)

    kw = {"number": args.number, "repeat": args.repeat}
    baseline = measure("raw XChaCha20-Poly1305 encrypt+decrypt", raw_aead, **kw)
    rows = [
        baseline,
        measure("keyring seal+open (version, nonce, AAD)", keyring_seal_open, **kw),
        measure("encrypted column store+reveal (+blind index)", column_store_reveal, **kw),
        measure("blind index (HMAC-SHA256, cached subkey)", blind_index, **kw),
    ]
    report("server keyring: phone number, encrypted column vs raw AEAD", rows, baseline)
    ring.wipe()
    return 0


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.exit(main(sys.argv[1:]))
