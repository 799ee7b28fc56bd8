"""The storage commands as an operator runs them: through ``bot.cli.main``."""

from __future__ import annotations

from pathlib import Path

import pytest

from medcrypt.bot.cli import main
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import migrate
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.repos.identities import get_or_create_identity, set_label
from tests.support.storage import KEYS_V1, KEYS_V2, NOW


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    monkeypatch.setenv("MEDCRYPT_DATABASE_URL", database_url)
    monkeypatch.setenv("MEDCRYPT_SERVER_KEYS", KEYS_V1)
    monkeypatch.delenv("MEDCRYPT_CONFIG", raising=False)
    return database_url


def _populate(url: str, n: int = 7) -> None:
    keyring = Keyring.from_env_value(KEYS_V1)
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as s:
            for i in range(n):
                ident, _ = get_or_create_identity(s, keyring, "telegram", str(10_000_000 + i),
                                                  now=NOW)
                set_label(ident, keyring, f"patient {i}")
    finally:
        engine.dispose()


def test_migrate_command_reaches_head(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"]) == 0
    assert migrate.current(env) == migrate.head()
    assert f"empty -> {migrate.head()}" in capsys.readouterr().out
    assert main(["migrate", "--to", "base"]) == 6
    assert "--allow-downgrade" in capsys.readouterr().err
    assert main(["migrate", "--to", "base", "--allow-downgrade"]) == 0
    assert migrate.current(env) is None
    assert main(["migrate", "--to", "no_such_rev"]) == 6


def test_keys_rewrap_leaves_no_row_on_version_1(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0
    _populate(env)
    monkeypatch.setenv("MEDCRYPT_SERVER_KEYS", KEYS_V2)
    capsys.readouterr()
    assert main(["keys", "status"]) == 0
    out = capsys.readouterr().out
    # Addresses and labels are sealed under each person's DEK (key tree) and indexed
    # under the epoch's index DEK (ADR 0039 Am. 1): no row follows the keyring; only
    # the KEK is rewrapped under the new root version.
    assert "values not on the current version: 0" in out
    assert "key tree: 1 KEK(s), 8 live DEK(s), 0 destroyed" in out
    assert main(["keys", "rewrap", "--batch-size", "3"]) == 0
    assert "0 row(s) remain on older versions" in capsys.readouterr().out
    assert main(["keys", "status"]) == 0
    out = capsys.readouterr().out
    lines = [line.split() for line in out.splitlines() if line.startswith("platform_")]
    assert all(parts[2] == "2" for parts in lines)
    assert "values not on the current version: 0" in out
    assert main(["keys", "rewrap"]) == 0  # resumable / idempotent
    assert "rewrapped 0 value(s)" in capsys.readouterr().out


def test_removing_a_used_version_is_a_clear_error(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0
    _populate(env, n=4)
    monkeypatch.setenv("MEDCRYPT_SERVER_KEYS", KEYS_V2.split(",")[0])
    capsys.readouterr()
    assert main(["keys", "status"]) == 6
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1
    # the KEK (and through it every DEK and index key) is on version 1
    assert "keks: 1 KEK(s) on root version 1" in err
    assert main(["keys", "rewrap"]) == 6
    assert "keks: 1 KEK(s) on root version 1" in capsys.readouterr().err


def test_keys_commands_need_a_migrated_database(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "status"]) == 6
    assert "medcrypt-bot migrate" in capsys.readouterr().err


def test_bad_keyring_is_a_config_error(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MEDCRYPT_SERVER_KEYS", "1:tooshort")
    assert main(["keys", "status"]) == 2
    assert "MEDCRYPT_SERVER_KEYS" in capsys.readouterr().err


def test_keys_generate_prints_a_usable_entry(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "generate", "--version", "3"]) == 0
    entry = capsys.readouterr().out.strip()
    assert Keyring.from_env_value(entry).current_version == 3


def test_doctor_reports_each_problem(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MEDCRYPT_SERVER_KEYS")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] server keys" in out
    assert "[FAIL] Telegram bot token: $TELEGRAM_BOT_TOKEN missing" in out
    assert ("[FAIL] schema: at empty" in out) or ("file does not exist" in out)
    assert out.rstrip().endswith("NOT healthy")


def test_doctor_healthy_after_migrate(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    tmp_path: Path
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:fake")
    # A deployable configuration: doctor fails the defaults' placeholder URL, the empty
    # escrow key and no admins (tests/operator/cli/test_doctor.py).
    cfg = tmp_path / "bot.toml"
    cfg.write_text('[clinic]\nescrow_public_key = "' + "A" * 43 + '"\n'
                   "admin_telegram_ids = [5550100, 5550200]\n[whatsapp]\nenabled = false\n")
    assert main(["migrate"]) == 0
    capsys.readouterr()
    status = main(["--config", str(cfg), "doctor"])
    out = capsys.readouterr().out
    assert "[  ok] server keys: versions [1], current 1" in out
    assert "[  ok] Telegram bot token: $TELEGRAM_BOT_TOKEN present" in out
    assert "123:fake" not in out
    assert "[  ok] database" in out
    if env.startswith("sqlite"):
        assert "[  ok] sqlite pragmas" in out
    assert "[  ok] key coverage" in out
    assert status == 0, out


def test_doctor_smoke(env: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status = main(["doctor", "--smoke"])
    out = capsys.readouterr().out
    assert "[  ok] smoke: read back by blind index" in out
    assert "[  ok] smoke: no clear value in db+WAL" in out
    assert "[  ok] smoke: no clear value after checkpoint" in out
    assert status == 0, out


def test_doctor_accepts_config_after_the_command(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.toml"
    good.write_text("[telegram]\nenabled = false\n")
    assert main(["migrate"]) == 0
    capsys.readouterr()
    main(["doctor", "--config", str(good)])
    out = capsys.readouterr().out
    assert "Telegram bot token" not in out and "Twilio auth token" in out
    bad = tmp_path / "bad.toml"
    bad.write_text("[telegram]\nenabled = 3\n")
    assert main(["doctor", "--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "telegram.enabled" in err
