"""The keystore's Argon2id cost: stronger for new keystores, raised on unlock for old
ones, and authenticated, so nobody can lower it in the file.

The old keystore here is sealed by hand from docs/PROTOCOL.md §15 with stock libsodium
at the cost every keystore had before (libsodium INTERACTIVE: 2 passes, 64 MiB) - the
bytes the old code wrote - and opened by the real ``medcrypt`` process, which pays the
real cost: these tests run at the product profile on purpose, the rest of the suite at
``tests/support/keystores.py``'s.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import nacl.bindings
import pytest
from nacl.pwhash import argon2id

from medcrypt.companion import keystore as ks
from medcrypt.companion.app import new_state
from medcrypt.companion.keystore import Keystore
from medcrypt.crypto.endpoint.keystore import LEGACY_INTERACTIVE, PROFILE, Argon2Profile
from medcrypt.crypto.endpoint.pairing import Role
from medcrypt.crypto.endpoint.session import IdentityKey
from medcrypt.crypto.errors import KeystoreLocked

ROOT = Path(__file__).resolve().parents[2]
EXE = str(Path(sys.executable).with_name("medcrypt"))
PASSPHRASE = "correct horse battery staple"
HEADER = struct.Struct(">4sBII16s24s")


def _seal_by_hand(path: Path, document: bytes, profile: Argon2Profile) -> None:
    """What any MedCrypt companion wrote, from the spec: header as AD, padded JSON."""
    salt, nonce = os.urandom(16), os.urandom(24)
    header = HEADER.pack(b"MCKS", 1, profile.opslimit, profile.memlimit, salt, nonce)
    key = argon2id.kdf(32, PASSPHRASE.encode(), salt, opslimit=profile.opslimit,
                       memlimit=profile.memlimit)
    padded = document + b" " * (-len(document) % 4096)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_bytes(header + nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        padded, header, nonce, key))
    path.chmod(0o600)


def _open_by_hand(blob: bytes) -> tuple[Argon2Profile, bytes, dict[str, object]]:
    _magic, _version, ops, mem, salt, nonce = HEADER.unpack_from(blob)
    key = argon2id.kdf(32, PASSPHRASE.encode(), salt, opslimit=ops, memlimit=mem)
    padded = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        blob[HEADER.size:], blob[:HEADER.size], nonce, key)
    return Argon2Profile(ops, mem), salt, json.loads(padded)


def _medcrypt(home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEDCRYPT_PASSPHRASE": PASSPHRASE,
           "MEDCRYPT_NOW": "2026-11-23T10:00:00+00:00"}
    env.pop("MEDCRYPT_HOME", None)
    return subprocess.run([EXE, "--home", str(home), *argv], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120, check=False)


def test_the_product_profile_is_stronger_than_interactive_in_both_costs() -> None:
    assert PROFILE.opslimit >= 3 and 64 * 2**20 <= PROFILE.memlimit <= 128 * 2**20
    assert LEGACY_INTERACTIVE.weaker_than(PROFILE)
    assert not PROFILE.weaker_than(LEGACY_INTERACTIVE)


def test_init_seals_a_new_keystore_at_the_product_profile(tmp_path: Path) -> None:
    home = tmp_path / "h"
    done = _medcrypt(home, "init", "--role", "patient")
    assert done.returncode == 0, done.stderr
    profile, _salt, state = _open_by_hand((home / ks.FILE_NAME).read_bytes())
    assert profile == PROFILE and state["role"] == "patient"


def test_an_interactive_keystore_opens_and_is_resealed_at_the_product_profile(
    tmp_path: Path,
) -> None:
    home = tmp_path / "h"
    path = home / ks.FILE_NAME
    identity = IdentityKey.generate()
    state = new_state(Role.PATIENT, identity, escrow_public=None, bot_contact="")
    document = json.dumps(state, sort_keys=True, separators=(",", ":")).encode()
    _seal_by_hand(path, document, LEGACY_INTERACTIVE)
    old_salt = HEADER.unpack_from(path.read_bytes())[4]

    done = _medcrypt(home, "status")
    assert done.returncode == 0, done.stderr
    blob = path.read_bytes()
    profile, salt, reopened = _open_by_hand(blob)
    assert profile == PROFILE and salt != old_salt
    assert reopened["identity"] == state["identity"] and reopened["role"] == "patient"
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in home.iterdir()) == sorted([ks.FILE_NAME, ks.LOCK_NAME])

    again = _medcrypt(home, "status")  # already at the profile: not sealed again
    assert again.returncode == 0, again.stderr
    assert HEADER.unpack_from(path.read_bytes())[4] == salt


def test_weakened_parameters_in_the_header_fail_the_tag_and_are_not_rewritten(
    tmp_path: Path,
) -> None:
    """The cost sits in the authenticated header: lowering it derives another key."""
    Keystore.create(tmp_path, PASSPHRASE, {"k": "v"}).close()
    path = tmp_path / ks.FILE_NAME
    genuine = path.read_bytes()
    assert HEADER.unpack_from(genuine)[2:4] == (PROFILE.opslimit, PROFILE.memlimit)
    for weaker in (LEGACY_INTERACTIVE, Argon2Profile(PROFILE.opslimit, 8192),
                   Argon2Profile(1, PROFILE.memlimit)):
        tampered = bytearray(genuine)
        tampered[5:13] = struct.pack(">II", weaker.opslimit, weaker.memlimit)
        path.write_bytes(bytes(tampered))
        with pytest.raises(KeystoreLocked, match="wrong passphrase or damaged file"):
            Keystore.unlock(tmp_path, PASSPHRASE)
        assert path.read_bytes() == bytes(tampered)  # no re-seal of a file that failed
    path.write_bytes(genuine)
    with Keystore.unlock(tmp_path, PASSPHRASE) as store:
        assert store.state == {"k": "v"}
    assert path.read_bytes() == genuine  # at the profile already: untouched


def test_a_raise_keeps_whichever_cost_was_already_higher(tmp_path: Path) -> None:
    more_passes = Argon2Profile(3, 16 * 1024)
    target = Argon2Profile(2, 32 * 1024)
    Keystore.create(tmp_path, PASSPHRASE, {"k": 1}, profile=more_passes).close()
    with Keystore.unlock(tmp_path, PASSPHRASE, profile=target) as store:
        assert store.state == {"k": 1}
        store.state["k"] = 2
        store.save()  # later saves use the raised key
    profile, _salt, state = _open_by_hand((tmp_path / ks.FILE_NAME).read_bytes())
    assert profile == Argon2Profile(3, 32 * 1024) and state == {"k": 2}


def test_only_tests_choose_a_cheaper_profile() -> None:
    """No product module builds a profile of its own or sets the target: the cheap one
    is named in tests/support only, and chosen there explicitly - there is no flag or
    environment variable for it."""
    defines = {ROOT / "crypto" / "endpoint" / "keystore.py", ROOT / "crypto" / "_primitives.py",
               ROOT / "companion" / "keystore.py"}
    assigns = re.compile(r"^\s*[\w.]*PROFILE\s*(?::[^=]*)?=", re.MULTILINE)
    for directory in ("companion", "crypto", "bot", "storage"):
        for path in (ROOT / directory).rglob("*.py"):
            if path in defines:
                continue
            text = path.read_text(encoding="utf-8")
            assert "OPSLIMIT_MIN" not in text and "MEMLIMIT_MIN" not in text, path
            assert "Argon2Profile(" not in text and not assigns.search(text), path
