"""``keys status`` shows the shred epochs: KEKs with root versions and ages, DEK counts,
and the age of the oldest backup that can still be restored."""

from __future__ import annotations

import re

import pytest

from medcrypt.bot.cli import main
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.repos.identities import erase_identity, get_or_create_identity
from tests.support.databases import migrated
from tests.support.storage import KEYS_V1, KEYS_V2, NOW


@pytest.fixture
def url(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> str:
    made = migrated(f"sqlite:///{tmp_path}/status.db")
    monkeypatch.setenv("MEDCRYPT_DATABASE_URL", made)
    monkeypatch.setenv("MEDCRYPT_SERVER_KEYS", KEYS_V1)
    monkeypatch.delenv("MEDCRYPT_CONFIG", raising=False)
    ring = Keyring.from_env_value(KEYS_V1)
    engine = make_engine(made)
    try:
        with session_factory(engine).begin() as s:
            ids = [get_or_create_identity(s, ring, "telegram", str(40_000_000 + i), now=NOW)[0].id
                   for i in range(3)]
            erase_identity(s, ids[0], now=NOW)
    finally:
        engine.dispose()
    return made


def _status(capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["keys", "status"]) == 0
    return capsys.readouterr().out


def _days(out: str, what: str) -> float:
    found = re.search(rf"{what}: ([0-9.]+) days", out)
    assert found, out
    return float(found.group(1))


def test_status_follows_an_epoch_through_its_close(
        url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = _status(capsys)
    assert "key provider: env; shred epochs of 30 days" in out
    # two people's DEKs (one erased) and the epoch's blind-index DEK
    assert re.search(r"KEK [0-9a-f]{8}  root version 1  age [0-9.]+ days  3 live DEK\(s\)"
                     r"  \(current\)", out), out
    assert "retired KEKs: 0; DEKs still on an older KEK: 0" in out
    assert re.search(r"DEKs: 3 live \(oldest [0-9.]+ days\), 1 destroyed", out), out
    assert "blind-index keys: 1 live; 0 row(s) still indexed under an older" in out
    before = _days(out, "oldest restorable backup")
    assert before >= 1  # the KEK was made at NOW, days ago

    monkeypatch.setenv("MEDCRYPT_SERVER_KEYS", KEYS_V2)
    assert main(["keys", "close-epoch"]) == 0
    out = _status(capsys)
    assert re.search(r"root version 2  age 0\.0 days  3 live DEK\(s\)  \(current\)", out), out
    assert "retired KEKs: 1; DEKs still on an older KEK: 0" in out
    # server key 1 is still configured: backups from before the close still restore
    assert _days(out, "oldest restorable backup") == before
    # the env procedure: `keys rewrap` moves what is left on key 1, then key 1 goes
    assert main(["keys", "rewrap"]) == 0
    monkeypatch.setenv("MEDCRYPT_SERVER_KEYS", KEYS_V2.split(",")[0])
    out = _status(capsys)
    assert _days(out, "oldest restorable backup") == 0.0
