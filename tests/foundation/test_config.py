"""A bad config fails at start with one line naming the key, exit status 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from medcrypt.bot.cli import main
from medcrypt.bot.domain.config import load_settings, parse_settings
from medcrypt.crypto.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

BROKEN = {
    "unknown key": ('[telegram]\nenabeld = true\n', "telegram.enabeld"),
    "wrong type": ('[relay]\nmax_file_bytes = "50MB"\n', "relay.max_file_bytes"),
    "bad choice": ('[telegram]\nmode = "push"\n', "telegram.mode"),
    "bad url": ('[whatsapp]\npublic_url = "bot.example.org"\n', "whatsapp.public_url"),
    "out of range": ('[whatsapp]\nlisten_port = 70000\n', "whatsapp.listen_port"),
    "not toml": ('[database\nurl = 1\n', "cfg.toml"),
    "section not a table": ('logging = "debug"\n', "logging"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_config_names_the_key(tmp_path: Path, case: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    text, key = BROKEN[case]
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(text)
    status = main(["--config", str(cfg), "doctor"])
    err = capsys.readouterr().err
    assert status == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert key in lines[0]
    assert "Traceback" not in err


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "missing.toml")
    assert "missing.toml" in str(info.value)
    assert "cannot read" in str(info.value)


def test_missing_env_var_names_setting_and_variable() -> None:
    settings = parse_settings({})
    with pytest.raises(ConfigError) as info:
        settings.secret("telegram.token_env", environ={})
    assert info.value.key == "telegram.token_env"
    assert "TELEGRAM_BOT_TOKEN" in str(info.value)
    assert settings.secret("telegram.token_env", environ={"TELEGRAM_BOT_TOKEN": "x"}) == "x"


def test_example_config_is_valid_and_complete() -> None:
    """config.example.toml documents every setting: it must load, and name each one."""
    import dataclasses

    from medcrypt.bot.domain.config import Settings

    example = ROOT / "config.example.toml"
    settings = load_settings(example)
    text = example.read_text()
    def check(table: str, value: object) -> None:
        assert f"[{table}]" in text, table
        for f in dataclasses.fields(value):  # type: ignore[arg-type]
            inner = getattr(value, f.name)
            if dataclasses.is_dataclass(inner):  # a sub-table such as [keys.pkcs11]
                check(f"{table}.{f.name}", inner)
                continue
            if isinstance(inner, dict):  # a table of values: [clinic.emergency_text_by_language]
                assert f"\n[{table}.{f.name}]" in text, f"{table}.{f.name}"
                continue
            assert f"\n{f.name} =" in text or f"\n# {f.name} =" in text, f"{table}.{f.name}"

    for section in dataclasses.fields(Settings):
        check(section.name, getattr(settings, section.name))


def test_bad_config_through_the_console_script(tmp_path: Path) -> None:
    """The real process: exit status 2 and a single stderr line."""
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("[schedule]\ngrace_days = 0\n")
    proc = subprocess.run(
        [sys.executable, "-m", "medcrypt.bot", "--config", str(cfg), "doctor"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "schedule.grace_days" in proc.stderr
