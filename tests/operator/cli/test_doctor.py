"""``doctor`` fails each configuration that used to pass it and break later, with a
one-line reason; ``doctor --live`` asks the sandbox's Telegram and Twilio.

Every broken case is the healthy configuration below with *one* thing changed, and the
healthy one must pass: so each failure is caused by the change it names, not by
something else the case happens to lack.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medcrypt.sandbox import FakeTelegram
from medcrypt.sandbox.fake_twilio import FakeTwilio
from tests.support.databases import migrated as migrated_copy
from tests.support.operator_cli import Ran, operator_env, run_bot, write_config
from tests.support.ports import worker_port

PUBLIC_URL = "https://clinic.invalid"
ESCROW = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()


def _healthy(tmp_path: Path) -> dict[str, dict[str, Any]]:
    return {
        "database": {"url": f"sqlite:///{tmp_path / 'bot.db'}"},
        "clinic": {"escrow_public_key": ESCROW, "admin_telegram_ids": [5550100, 5550200]},
        "telegram": {"enabled": True},
        "whatsapp": {"enabled": True, "public_url": PUBLIC_URL},
    }


def _secrets() -> dict[str, str]:
    return {"TELEGRAM_BOT_TOKEN": "7000000009:AAdoctor-test-token-xxxxxxxxxxxxxxxx",
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "f" * 32,
            "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886"}


@pytest.fixture
def migrated(tmp_path: Path) -> Path:
    migrated_copy(f"sqlite:///{tmp_path / 'bot.db'}")
    return tmp_path


def _doctor(tmp_path: Path, sections: dict[str, dict[str, Any]], env: dict[str, str],
            *extra: str) -> Ran:
    cfg = write_config(tmp_path / "bot.toml", sections)
    return run_bot("--config", str(cfg), "doctor", *extra, env=env, cwd=tmp_path)


def _failures(ran: Ran) -> list[str]:
    return [line for line in ran.stdout.splitlines() if line.startswith("[FAIL]")]


def test_the_healthy_configuration_passes(migrated: Path) -> None:
    ran = _doctor(migrated, _healthy(migrated), operator_env(**_secrets()))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert _failures(ran) == []
    for secret in _secrets().values():
        assert secret not in ran.stdout + ran.stderr


def _set(sections: dict[str, dict[str, Any]], dotted: str, value: Any) -> None:
    section, _, key = dotted.partition(".")
    sections.setdefault(section, {})[key] = value


WEBHOOK = {"telegram.mode": "webhook", "telegram.webhook_url": "https://clinic.invalid/tg/hook",
           "telegram.webhook_path": "hook"}
#: case -> (settings changed, environment variables removed or added, words of the reason)
BROKEN: dict[str, tuple[dict[str, Any], dict[str, str | None], tuple[str, ...]]] = {
    "placeholder public_url": ({"whatsapp.public_url": "https://bot.example.org"}, {},
                               ("whatsapp.public_url", "bot.example.org")),
    "empty escrow key": ({"clinic.escrow_public_key": ""}, {}, ("escrow", "not set")),
    "malformed escrow key": ({"clinic.escrow_public_key": "abc"}, {}, ("escrow", "32 bytes")),
    "no admins": ({"clinic.admin_telegram_ids": []}, {}, ("admins", "no clinic admin")),
    "webhook_path not the URL's": ({**WEBHOOK, "telegram.webhook_path": "telegram"},
                                   {"TELEGRAM_WEBHOOK_SECRET": "s" * 32},
                                   ("webhook_path", "/telegram", "/tg/hook")),
    "webhook without secret": (WEBHOOK, {}, ("TELEGRAM_WEBHOOK_SECRET", "missing")),
    "missing Telegram token": ({}, {"TELEGRAM_BOT_TOKEN": None},
                               ("TELEGRAM_BOT_TOKEN", "missing")),
    "missing Twilio auth token": ({}, {"TWILIO_AUTH_TOKEN": None},
                                  ("TWILIO_AUTH_TOKEN", "missing")),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_broken_configuration_fails_with_one_line(migrated: Path, case: str) -> None:
    changes, env_changes, words = BROKEN[case]
    sections = _healthy(migrated)
    for dotted, value in changes.items():
        _set(sections, dotted, value)
    env = operator_env(**_secrets())
    for name, value in env_changes.items():
        if value is None:
            env.pop(name)
        else:
            env[name] = value
    ran = _doctor(migrated, sections, env)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    failures = _failures(ran)
    assert len(failures) == 1, failures
    for word in words:
        assert word in failures[0], (word, failures[0])
    assert ran.stdout.rstrip().endswith("NOT healthy")


@pytest.fixture
def sandbox() -> Iterator[tuple[FakeTelegram, FakeTwilio]]:
    with FakeTelegram() as tg, FakeTwilio() as tw:
        yield tg, tw


def _live_setup(tmp_path: Path, tg: FakeTelegram,
                tw: FakeTwilio) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    sections = _healthy(tmp_path)
    sections["telegram"].update(api_base_url=tg.base_url, api_file_url=tg.base_file_url)
    sections["whatsapp"]["api_base_url"] = tw.api_base_url
    env = operator_env(TELEGRAM_BOT_TOKEN=tg.token, TWILIO_ACCOUNT_SID=tw.account_sid,
                       TWILIO_AUTH_TOKEN=tw.auth_token, TWILIO_WHATSAPP_FROM=tw.whatsapp_from)
    return sections, env


def test_live_passes_against_the_sandbox(migrated: Path,
                                         sandbox: tuple[FakeTelegram, FakeTwilio]) -> None:
    tg, tw = sandbox
    sections, env = _live_setup(migrated, tg, tw)
    ran = _doctor(migrated, sections, env, "--live")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "[  ok] Telegram live: getMe answered: @medcrypt_sandbox_bot" in ran.stdout
    assert "[  ok] Twilio live: account fetched, status active" in ran.stdout
    assert "getMe" in [r.api_method for r in tg.requests]
    assert "Accounts.fetch" in [r.api_method for r in tw.requests]


@pytest.mark.parametrize("wrong", ["TELEGRAM_BOT_TOKEN", "TWILIO_AUTH_TOKEN"])
def test_live_fails_with_one_line_on_wrong_credentials(
        migrated: Path, sandbox: tuple[FakeTelegram, FakeTwilio], wrong: str) -> None:
    tg, tw = sandbox
    sections, env = _live_setup(migrated, tg, tw)
    env[wrong] = ("7000000001:AA" + "x" * 33) if wrong == "TELEGRAM_BOT_TOKEN" else "0" * 32
    ran = _doctor(migrated, sections, env, "--live")
    assert ran.returncode == 1
    failures = _failures(ran)
    assert len(failures) == 1, failures
    assert wrong in failures[0] and "rejected" in failures[0]
    assert env[wrong] not in ran.stdout + ran.stderr
    assert "Traceback" not in ran.stderr and "Unclosed" not in ran.stderr


def test_live_fails_with_one_line_when_telegram_is_unreachable(
        migrated: Path, sandbox: tuple[FakeTelegram, FakeTwilio]) -> None:
    tg, tw = sandbox
    sections, env = _live_setup(migrated, tg, tw)
    closed = worker_port()  # nothing listens there
    sections["telegram"]["api_base_url"] = f"http://127.0.0.1:{closed}/bot"
    ran = _doctor(migrated, sections, env, "--live")
    assert ran.returncode == 1
    failures = _failures(ran)
    assert len(failures) == 1 and "Telegram" in failures[0] and "unreachable" in failures[0]
    assert "Unclosed" not in ran.stderr
