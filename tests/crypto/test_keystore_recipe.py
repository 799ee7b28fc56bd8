"""crypto.endpoint.keystore: the companion keystore's crypto as one recipe, same bytes as before.

The golden digests were computed with the companion's own sealing code as it stood
before the recipe existed (commit 9001fa9, ``os.urandom`` replaced by the same
deterministic stream), so they pin that moving the code changed no byte of the file.
"""

from __future__ import annotations

import hashlib
import json
import struct

import nacl.bindings
import pytest
from nacl.pwhash import argon2id

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint import keystore
from medcrypt.crypto.endpoint.keystore import HEADER_LEN, Argon2Profile, KeystoreKey, parse_header
from medcrypt.crypto.errors import DecryptionFailed, KeystoreLocked, StorageError

FAST = Argon2Profile(argon2id.OPSLIMIT_MIN, argon2id.MEMLIMIT_MIN)  # tests only
PASSPHRASE = "pässwörd"


def det_rng(label: bytes):  # type: ignore[no-untyped-def]
    counter = [0]

    def rng(n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(label + counter[0].to_bytes(8, "big")).digest()
            counter[0] += 1
        return out[:n]
    return rng


def document(entries: int) -> bytes:
    state = {f"pairing-{i:04d}": hashlib.sha256(b"%d" % i).hexdigest() for i in range(entries)}
    return json.dumps(state, sort_keys=True, separators=(",", ":")).encode()


@pytest.mark.parametrize(("entries", "size", "digest"), [
    (1, 4165, "7b91bee23fb2540fd827ca7de572912b335236e370d55740f9f83b6752d248f5"),
    (400, 36933, "7f81e90de609107a17b63ebdb9a625d52167842e5542a546a2d80a0b1f39baa0"),
], ids=["libsodium-path", "openssl-path"])
def test_sealed_file_is_byte_identical_to_the_pre_recipe_code(
        entries: int, size: int, digest: str) -> None:
    rng = det_rng(b"keystore")  # one stream: salt first, then the nonce, as before
    with KeystoreKey.new(PASSPHRASE, rng=rng, profile=FAST) as key:
        blob = key.seal(document(entries), rng=rng)
    assert (len(blob), hashlib.sha256(blob).hexdigest()) == (size, digest)


def test_sealed_file_matches_an_independent_libsodium_reader() -> None:
    doc = document(3)
    with KeystoreKey.new(PASSPHRASE, rng=det_rng(b"salt"), profile=FAST) as key:
        blob = key.seal(doc, rng=det_rng(b"nonce"))
    magic, version, ops, mem, salt, nonce = struct.unpack(">4sBII16s24s", blob[:53])
    assert (magic, version, ops, mem) == (b"MCKS", 1, FAST.opslimit, FAST.memlimit)
    assert salt == det_rng(b"salt")(16) and nonce == det_rng(b"nonce")(24)
    raw_key = argon2id.kdf(32, PASSPHRASE.encode(), salt, opslimit=FAST.opslimit,
                           memlimit=FAST.memlimit)
    padded = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        blob[53:], blob[:53], nonce, raw_key)
    assert padded == doc + b" " * (-len(doc) % 4096)


def test_unlock_round_trip_fresh_nonce_and_wrong_passphrase() -> None:
    with KeystoreKey.new(PASSPHRASE, profile=FAST) as key:
        first, second = key.seal(b'{"a":1}'), key.seal(b'{"a":1}')
    assert first[:HEADER_LEN - 24] == second[:HEADER_LEN - 24]
    assert first[HEADER_LEN - 24:HEADER_LEN] != second[HEADER_LEN - 24:HEADER_LEN]
    again, padded = KeystoreKey.unlock(PASSPHRASE, first)
    with again:
        assert json.loads(padded) == {"a": 1} and len(padded) == 4096
        assert again.open(second) == padded  # the same key opens every save of the file
    with pytest.raises(DecryptionFailed):
        KeystoreKey.unlock("Pässwörd", first)
    with pytest.raises(KeystoreLocked, match="empty"):
        KeystoreKey.unlock("", first)


def test_failed_unlock_zeroes_the_derived_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with KeystoreKey.new(PASSPHRASE, profile=FAST) as key:
        blob = key.seal(b"{}")
    derived: list[bytearray] = []
    real = prim.argon2id_derive

    def spy(*args: object, **kwargs: object) -> bytearray:
        out = real(*args, **kwargs)  # type: ignore[arg-type]
        derived.append(out)
        return out

    monkeypatch.setattr(prim, "argon2id_derive", spy)
    with pytest.raises(DecryptionFailed):
        KeystoreKey.unlock("wrong", blob)
    assert len(derived) == 1 and len(derived[0]) == 32 and not any(derived[0])


def test_a_wiped_key_refuses_to_seal_or_open() -> None:
    key = KeystoreKey.new(PASSPHRASE, profile=FAST)
    blob = key.seal(b"{}")
    key.wipe()
    with pytest.raises(StorageError, match="wiped"):
        key.seal(b"{}")
    with pytest.raises(StorageError, match="wiped"):
        key.open(blob)


def test_a_file_of_another_salt_is_not_opened_with_this_key() -> None:
    with KeystoreKey.new(PASSPHRASE, profile=FAST) as one, \
            KeystoreKey.new(PASSPHRASE, profile=FAST) as two:
        assert one.salt != two.salt
        with pytest.raises(DecryptionFailed):
            one.open(two.seal(b"{}"))


@pytest.mark.parametrize(("blob", "match"), [
    (b"MCKS\x01" + bytes(63), "truncated"),
    (b"MCKX\x01" + bytes(8) + bytes(56), "not a MedCrypt keystore"),
    (b"MCKS\x02" + bytes(8) + bytes(56), "not a MedCrypt keystore"),
    (b"MCKS\x01" + struct.pack(">II", 17, argon2id.MEMLIMIT_MIN) + bytes(56), "out-of-range"),
    (b"MCKS\x01" + struct.pack(">II", 2, 2**30 + 1) + bytes(56), "out-of-range"),
])
def test_header_refusals_come_before_argon2id(blob: bytes, match: str) -> None:
    with pytest.raises(KeystoreLocked, match=match):
        parse_header(blob)
    with pytest.raises(KeystoreLocked, match=match):
        KeystoreKey.unlock(PASSPHRASE, blob)


def test_constants_match_protocol_section_15() -> None:
    assert (keystore.MAGIC, keystore.FORMAT_VERSION, keystore.HEADER_LEN) == (b"MCKS", 1, 53)
    assert (keystore.OPSLIMIT, keystore.MEMLIMIT) == (3, 134_217_728)
    assert (keystore.LEGACY_INTERACTIVE.opslimit, keystore.LEGACY_INTERACTIVE.memlimit) == (
        2, 67_108_864)
    assert (keystore.MAX_OPSLIMIT, keystore.MAX_MEMLIMIT, keystore.PAD_BLOCK) == (
        16, 1_073_741_824, 4096)
