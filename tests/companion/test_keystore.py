"""The encrypted keystore: sealed at rest, atomic, lock-serialised, no stale key bytes."""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
import struct
import time
from pathlib import Path

import nacl.bindings
import pytest
from nacl.pwhash import argon2id

from medcrypt.companion import keystore as ks
from medcrypt.companion.keystore import HEADER_LEN, Keystore, atomic_write
from medcrypt.crypto.errors import KeystoreLocked, StorageError
from tests.support.keystores import FAST_KEYSTORE
from tests.support.scheduling import TIMING_GATE

FAST = FAST_KEYSTORE


def test_round_trip_and_wrong_passphrase(tmp_path: Path) -> None:
    secret = os.urandom(32)
    with Keystore.create(tmp_path, "pw", {"k": secret.hex()}, profile=FAST):
        pass
    raw = (tmp_path / ks.FILE_NAME).read_bytes()
    assert raw.startswith(b"MCKS\x01") and secret not in raw and secret.hex().encode() not in raw
    assert (len(raw) - HEADER_LEN - 16) % ks.PAD_BLOCK == 0
    with Keystore.unlock(tmp_path, "pw", profile=FAST) as store:
        assert store.state == {"k": secret.hex()}
    with pytest.raises(KeystoreLocked):
        Keystore.unlock(tmp_path, "PW", profile=FAST)
    # the lock is released after a failed unlock
    with Keystore.unlock(tmp_path, "pw", profile=FAST):
        pass


def test_create_refuses_to_overwrite(tmp_path: Path) -> None:
    Keystore.create(tmp_path, "pw", {}, profile=FAST).close()
    with pytest.raises(StorageError):
        Keystore.create(tmp_path, "pw2", {}, profile=FAST)


def test_missing_keystore_says_run_init(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="medcrypt init"):
        Keystore.unlock(tmp_path / "nothing", "pw", profile=FAST)


def test_any_altered_byte_refuses_to_unlock(tmp_path: Path) -> None:
    Keystore.create(tmp_path, "pw", {"a": 1}, profile=FAST).close()
    path = tmp_path / ks.FILE_NAME
    good = path.read_bytes()
    for pos in (0, 4, 5, 9, 14, 20, 40, HEADER_LEN, len(good) - 1):
        bad = bytearray(good)
        bad[pos] ^= 0x01
        path.write_bytes(bytes(bad))
        with pytest.raises(KeystoreLocked):
            Keystore.unlock(tmp_path, "pw", profile=FAST)
    path.write_bytes(good[:30])
    with pytest.raises(KeystoreLocked):
        Keystore.unlock(tmp_path, "pw", profile=FAST)


@TIMING_GATE
def test_parameters_are_authenticated_and_bounded(tmp_path: Path) -> None:
    Keystore.create(tmp_path, "pw", {}, profile=FAST).close()
    path = tmp_path / ks.FILE_NAME
    raw = bytearray(path.read_bytes())
    raw[5:9] = (10**6).to_bytes(4, "big")  # absurd opslimit: refused before Argon2id runs
    path.write_bytes(bytes(raw))
    start = time.perf_counter()
    with pytest.raises(KeystoreLocked):
        Keystore.unlock(tmp_path, "pw", profile=FAST)
    assert time.perf_counter() - start < 5


def test_shredded_value_leaves_no_bytes_in_file(tmp_path: Path) -> None:
    doomed = os.urandom(32)
    state = {"epoch_keys": {"670": base64.b64encode(doomed).decode()}, "keep": "x"}
    with Keystore.create(tmp_path, "pw", state, profile=FAST) as store:
        del store.state["epoch_keys"]["670"]
        store.save()
    files = list(tmp_path.iterdir())
    assert {f.name for f in files} == {ks.FILE_NAME, ks.LOCK_NAME}  # no temp files left
    for f in files:
        raw = f.read_bytes()
        assert doomed not in raw and base64.b64encode(doomed) not in raw
    with Keystore.unlock(tmp_path, "pw", profile=FAST) as store:
        assert store.state == {"epoch_keys": {}, "keep": "x"}


def test_every_save_uses_a_fresh_nonce(tmp_path: Path) -> None:
    with Keystore.create(tmp_path, "pw", {"a": 1}, profile=FAST) as store:
        first = store.path.read_bytes()
        store.state["a"] = 2
        store.save()
        second = store.path.read_bytes()
    assert first[:HEADER_LEN - 24] == second[:HEADER_LEN - 24]
    assert first[HEADER_LEN - 24:HEADER_LEN] != second[HEADER_LEN - 24:HEADER_LEN]


def test_unchanged_document_is_not_rewritten(tmp_path: Path) -> None:
    Keystore.create(tmp_path, "pw", {"a": [1, 2]}, profile=FAST).close()
    inode = (tmp_path / ks.FILE_NAME).stat().st_ino
    with Keystore.unlock(tmp_path, "pw", profile=FAST) as store:
        store.save()
        assert store.path.stat().st_ino == inode
        store.state["a"].append(3)
        store.save()
        assert store.path.stat().st_ino != inode


def test_atomic_write_failure_keeps_old_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")

    def boom(*_a: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def _crash_while_writing(home: str) -> None:
    """Child: open the keystore and die (SIGKILL-like) half-way through a temp file."""
    store = Keystore.unlock(Path(home), "pw", profile=FAST)
    store.state["big"] = "y" * 200_000

    real_fsync = os.fsync

    def die(fd: int) -> None:
        real_fsync(fd)
        os._exit(9)

    os.fsync = die  # type: ignore[assignment]
    store.save()


def test_crash_mid_save_leaves_old_keystore_readable(tmp_path: Path) -> None:
    Keystore.create(tmp_path, "pw", {"a": 1}, profile=FAST).close()
    proc = multiprocessing.get_context("spawn").Process(target=_crash_while_writing,
                                                        args=(str(tmp_path),))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 9
    with Keystore.unlock(tmp_path, "pw", profile=FAST) as store:
        assert store.state == {"a": 1}
    # the half-written temp file (which could hold since-shredded keys) is gone
    assert sorted(p.name for p in tmp_path.iterdir()) == [ks.LOCK_NAME, ks.FILE_NAME]


def _hold_lock(home: str, ready: multiprocessing.synchronize.Event, hold: float) -> None:
    store = Keystore.unlock(Path(home), "pw", profile=FAST)
    ready.set()
    time.sleep(hold)
    store.state["writer"] = "first"
    store.save()
    store.close()


def test_concurrent_commands_are_serialised(tmp_path: Path) -> None:
    Keystore.create(tmp_path, "pw", {}, profile=FAST).close()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(str(tmp_path), ready, 1.0))
    proc.start()
    assert ready.wait(60)
    with Keystore.unlock(tmp_path, "pw", profile=FAST) as store:  # blocks until the child saved
        assert store.state == {"writer": "first"}
    proc.join(60)


@pytest.mark.parametrize("entries", [1, 400], ids=["libsodium-path", "openssl-path"])
def test_file_matches_protocol_section_15(tmp_path: Path, entries: int) -> None:
    """An independent reader built from docs/PROTOCOL.md §15 with stock libsodium opens the
    file, for a document small enough for the libsodium AEAD path and one large enough
    (> 16 KiB) for the HChaCha20 + OpenSSL path, which must give the same bytes."""
    state = {f"pairing-{i:04d}": base64.b64encode(os.urandom(32)).decode() for i in range(entries)}
    with Keystore.create(tmp_path, "pässwörd", state, profile=FAST):
        pass
    blob = (tmp_path / ks.FILE_NAME).read_bytes()
    magic, version, ops, mem, salt, nonce = struct.unpack(">4sBII16s24s", blob[:53])
    assert (magic, version, ops, mem) == (b"MCKS", 1, FAST.opslimit, FAST.memlimit)
    key = argon2id.kdf(32, "pässwörd".encode(), salt, opslimit=ops, memlimit=mem)
    padded = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        blob[53:], blob[:53], nonce, key)
    document = json.dumps(state, sort_keys=True, separators=(",", ":")).encode()
    assert padded == document + b" " * (-len(document) % 4096)
    assert (len(document) > 16 * 1024) == (entries == 400)
