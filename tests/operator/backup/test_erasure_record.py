"""The erasure record: append-only, MACed, PHI-free; a forged or edited line stops a restore."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from medcrypt.crypto.errors import StorageError
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.backup.erasure_record import ErasureFact, ErasureRecord

REF = "pairing:" + "a1" * 12
WHO = "identity:" + "b2" * 12


def _facts() -> list[ErasureFact]:
    return [ErasureFact(1_000, "shred", REF, 24311), ErasureFact(1_000, "ended", REF),
            ErasureFact(2_000, "erased", WHO)]


def test_round_trip_and_since(tmp_path: Path) -> None:
    ring = Keyring({1: os.urandom(32)})
    record = ErasureRecord(tmp_path / "erasures", ring)
    record.append(_facts()[:2])
    record.append(_facts()[2:])
    assert list(record.read()) == _facts()
    assert (tmp_path / "erasures").stat().st_mode & 0o777 == 0o600


def test_lines_hold_pseudonyms_only(tmp_path: Path) -> None:
    ring = Keyring({1: os.urandom(32)})
    record = ErasureRecord(tmp_path / "erasures", ring)
    with pytest.raises(ValueError, match="audit refs"):
        record.append([ErasureFact(1, "erased", "+15551230001")])
    with pytest.raises(ValueError, match="audit refs"):
        record.append([ErasureFact(1, "shred", "0123456789abcdef0123456789abcdef", 1)])
    assert not (tmp_path / "erasures").exists() or "+1555" not in (
        tmp_path / "erasures").read_text()


@pytest.mark.parametrize("edit", [
    lambda line: line.replace("24311", "24312"),          # another epoch
    lambda line: line.replace(REF, "pairing:" + "c3" * 12),  # another pairing
    lambda line: line[:-3] + ("0" if line[-3] != "0" else "1") + line[-2:],  # MAC byte
    lambda line: line.split("\t")[0] + "\n",              # MAC dropped
])
def test_an_edited_line_is_refused_by_number(tmp_path: Path, edit: object) -> None:
    ring = Keyring({1: os.urandom(32)})
    path = tmp_path / "erasures"
    record = ErasureRecord(path, ring)
    record.append(_facts())
    lines = path.read_text().splitlines(keepends=True)
    lines[0] = edit(lines[0])  # type: ignore[operator]
    path.write_text("".join(lines))
    with pytest.raises(StorageError, match="line 1"):
        list(record.read())


def test_a_line_forged_without_the_server_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "erasures"
    ErasureRecord(path, Keyring({1: os.urandom(32)})).append(_facts()[:1])  # attacker's key
    with pytest.raises(StorageError, match="MAC does not verify"):
        list(ErasureRecord(path, Keyring({1: os.urandom(32)})).read())


def test_lines_stay_valid_across_a_keyring_rotation(tmp_path: Path) -> None:
    old = os.urandom(32)
    path = tmp_path / "erasures"
    ErasureRecord(path, Keyring({1: old})).append(_facts()[:1])
    rotated = ErasureRecord(path, Keyring({2: os.urandom(32), 1: old}))
    rotated.append(_facts()[1:2])
    assert list(rotated.read()) == _facts()[:2]
    with pytest.raises(StorageError, match="not configured"):
        list(ErasureRecord(path, Keyring({2: os.urandom(32)})).read())
