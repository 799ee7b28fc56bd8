"""The real bot between the loopback fakes, with break-glass wired into its dispatcher.

Like tests/bot/conftest.py, but: two config admins (A and B) on Telegram, the clinic
escrow public key configured, a movable clock shared by the bot and the companions'
protocol sessions (so months can pass). The break-glass commands are in the bot's
production command registry (bot/commands/breakglass.py, approve.py, deny.py).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from medcrypt.bot.app.bot import BotApp
from medcrypt.bot.cli.escrow import public_key_text
from medcrypt.bot.domain.config import parse_settings
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.sandbox import FakeTelegram
from medcrypt.sandbox.fake_twilio import FakeTwilio
from medcrypt.storage.audit import AuditLog
from tests.bot.conftest import (
    environ_for,
    free_port,
    sandbox_platforms,
    sandbox_settings,
)
from tests.breakglass.helpers import (
    Conversation,
    Escrow,
    MovableClock,
    make_conversation,
    make_escrow,
)

ADMIN_A = 9990001
ADMIN_B = 9990002
PHYSICIAN_TG = 5550001
PATIENT_WA = "+15551230001"
START = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


@dataclass
class Rig:
    tg: FakeTelegram
    tw: FakeTwilio
    bot: BotApp
    db: Path
    environ: dict[str, str]
    clock: MovableClock
    escrow: Escrow
    config: Path

    def audit_log(self) -> AuditLog:
        keyring = Keyring.from_environ(self.environ, env_name="MEDCRYPT_SERVER_KEYS")
        return AuditLog(self.bot.engine, keyring, clock=self.clock)

    def tg_texts(self, chat: int) -> list[str]:
        return [m.text for m in self.tg.messages_to(chat) if m.text]

    def wa_texts(self) -> list[str]:
        return [m.body for m in self.tw.messages_to(PATIENT_WA) if m.body]

    async def tg_says(self, chat: int, text: str, *, expect: str, timeout: float = 10) -> str:
        """Send ``text`` from ``chat`` and wait for a new reply containing ``expect``."""
        before = len(self.tg.messages_to(chat))
        self.tg.user_sends_text(chat, text)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            new = [m.text for m in self.tg.messages_to(chat)[before:] if m.text]
            hit = [t for t in new if expect in t]
            if hit:
                return hit[-1]
            await _sleep()
        raise AssertionError(f"no reply containing {expect!r}; got {new!r}")


async def _sleep() -> None:
    import asyncio

    await asyncio.sleep(0.05)


def settings_for(tg: FakeTelegram, tw: FakeTwilio, port: int, db: Path, escrow: Escrow,
                 window: int) -> Any:
    return parse_settings(sandbox_settings(
        tg, tw, port, db,
        clinic={"admin_telegram_ids": [ADMIN_A, ADMIN_B],
                "escrow_public_key": public_key_text(escrow.public)},
        breakglass={"approval_window_minutes": window}))


@pytest.fixture
def window_minutes() -> int:
    return 60


@pytest.fixture
def warm_audit() -> bool:
    return True


@pytest.fixture
async def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              window_minutes: int, warm_audit: bool) -> AsyncIterator[Rig]:
    escrow = make_escrow()
    clock = MovableClock(START)
    port = free_port()
    async with sandbox_platforms(port) as (tg, tw):
        db = tmp_path / "bot.db"
        env = environ_for(tg, tw)
        for key, value in env.items():  # the CLI commands read the process env
            monkeypatch.setenv(key, value)
        config = tmp_path / "bot.toml"
        config.write_text(f'[database]\nurl = "sqlite:///{db}"\n')
        bot_app = BotApp(settings_for(tg, tw, port, db, escrow, window_minutes), environ=env,
                         clock=clock)
        rig = Rig(tg, tw, bot_app, db, env, clock, escrow, config)
        if warm_audit:  # as the jobs do; see test_first_use_of_the_audit_log
            rig.audit_log().pseudonym("pairing", "warm-up")
        await bot_app.start()
        try:
            yield rig
        finally:
            await bot_app.stop()


async def pair(rig: Rig) -> Conversation:
    conv = make_conversation(rig.escrow.public, START)
    conv.clock = rig.clock
    rig.tg.user_sends_text(PHYSICIAN_TG, conv.register_token)
    await rig.tg.wait_for_messages_async(PHYSICIAN_TG, 1, timeout=10)
    result = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, conv.accept_token)
    assert result.http_status == 200
    await rig.tg.wait_for_messages_async(PHYSICIAN_TG, 3, timeout=10)
    return conv


async def until(predicate: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the sandbox")
        await _sleep()


async def say(rig: Rig, conv: Conversation, who: str, text: str) -> str:
    """A companion encrypts; its deposit (if due) and token go through the chat app.

    Returns the token once the other member has received it.
    """
    token, deposit = conv.send(who, text)
    for item in ([deposit] if deposit else []) + [token]:
        if who == "physician":
            replies = len(rig.tg.messages_to(PHYSICIAN_TG))
            rig.tg.user_sends_text(PHYSICIAN_TG, item)
        else:
            replies = len(rig.tw.messages_to(PATIENT_WA))
            r = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, item)
            assert r.http_status == 200
        if item is deposit:  # the bot acknowledges a stored deposit to its sender
            if who == "physician":
                await until(lambda n=replies: len(rig.tg.messages_to(PHYSICIAN_TG)) > n)
            else:
                await until(lambda n=replies: len(rig.tw.messages_to(PATIENT_WA)) > n)
    if who == "physician":
        await until(lambda: token in rig.wa_texts())
    else:
        await until(lambda: token in rig.tg_texts(PHYSICIAN_TG))
    return token
