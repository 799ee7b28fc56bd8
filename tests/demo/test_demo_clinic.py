"""The demo's clinic plumbing: its clock, its config file and reading ``escrow init``."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from medcrypt.bot.cli import main
from medcrypt.bot.domain.config import parse_settings
from medcrypt.crypto.errors import MedCryptError
from medcrypt.demo.clinic import TravelClock, parse_escrow_init, settings_dict, write_toml


def test_travel_clock_moves_the_calendar_and_keeps_flowing() -> None:
    at = datetime(2027, 3, 22, 9, 0, tzinfo=UTC)
    clock = TravelClock(at)
    first = clock.now()
    assert abs(first - at) < timedelta(seconds=5)
    assert clock.now() >= first
    clock.travel_to(datetime(2027, 4, 8, 9, 0, tzinfo=UTC))
    assert clock.now().date().isoformat() == "2027-04-08"
    with pytest.raises(ValueError, match="naive"):
        clock.travel_to(datetime(2027, 4, 8, 9, 0))


def test_config_file_round_trips_to_the_same_settings(tmp_path: Path) -> None:
    config = settings_dict(tmp_path, telegram=("http://127.0.0.1:1/bot", "http://127.0.0.1:1/f"),
                           twilio_api="http://127.0.0.1:2", port=3, template_sid="HX" + "a" * 32,
                           escrow_public_key="A" * 43, admin_telegram_ids=[7, 8])
    path = write_toml(tmp_path / "clinic.toml", config)
    parsed = tomllib.loads(path.read_text(encoding="utf-8"))
    assert parsed == config
    settings = parse_settings(parsed)
    assert settings.clinic.admin_telegram_ids == [7, 8]
    assert settings.database_url.endswith("bot.db")


def test_reads_what_escrow_init_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["escrow", "init", "--labels", "Dr A,Dr B,Director C"]) == 0
    setup = parse_escrow_init(capsys.readouterr().out)
    assert list(setup.shares) == ["Dr A", "Dr B", "Director C"]
    assert len(set(setup.shares.values())) == 3
    assert all(len(words.split()) >= 20 for words in setup.shares.values())
    assert setup.public_config.rstrip("=") in setup.public_config
    assert len(setup.public_b64) == 44


def test_escrow_output_without_shares_is_refused() -> None:
    with pytest.raises(MedCryptError, match="no shares"):
        parse_escrow_init("Clinic escrow key: nothing here\n")
