"""A running bot between the two loopback fakes, all in the test's event loop.

The bot is the real :class:`bot.app.BotApp` (PTB Application polling the fake Telegram,
the twilio Client sending to the fake Twilio, the Starlette webhook on a loopback port
the fake Twilio posts signed webhooks to). Tokens are built with the keyless wire codec:
the bot only reads headers, so random ciphertext is indistinguishable from real here.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from medcrypt.bot.app.bot import BotApp
from medcrypt.bot.domain.config import parse_settings
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.crypto.keyless.wire import (
    Direction,
    Kind,
    encode_accept,
    encode_register,
    encode_sealed_header,
    encode_token,
)
from medcrypt.sandbox import FakeTelegram
from medcrypt.sandbox.fake_twilio import FakeTwilio

PHYSICIAN_TG = 5550001
PATIENT_WA = "+15551230001"
TEMPLATE_SID = "HX" + "a" * 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sandbox_settings(tg: FakeTelegram, tw: FakeTwilio, port: int, db: Path,
                     **sections: dict[str, Any]) -> dict[str, Any]:
    """The config of a live bot on the sandbox, fast timeouts; ``sections`` add or extend.

    Shared by every rig that runs the real BotApp (bot, break-glass, integration tests).
    """
    config: dict[str, dict[str, Any]] = {
        "database": {"url": f"sqlite:///{db}"},
        "telegram": {"api_base_url": tg.base_url, "api_file_url": tg.base_file_url,
                     "poll_timeout_seconds": 1, "request_timeout_seconds": 2.0},
        "whatsapp": {"api_base_url": tw.api_base_url,
                     "public_url": f"http://127.0.0.1:{port}", "listen_port": port,
                     "request_timeout_seconds": 2.0, "template_content_sid": TEMPLATE_SID},
        "relay": {"outbox_lease_seconds": 3.0, "outbox_base_backoff_seconds": 0.05,
                  "outbox_max_backoff_seconds": 0.5},
    }
    for name, values in sections.items():
        config[name] = {**config.get(name, {}), **values}
    return config


def settings_for(tg: FakeTelegram, tw: FakeTwilio, port: int, db: Path,
                 **relay: Any) -> Any:
    return parse_settings(sandbox_settings(tg, tw, port, db, relay=relay,
                                           clinic={"admin_telegram_ids": [9990001]}))


def environ_for(tg: FakeTelegram, tw: FakeTwilio) -> dict[str, str]:
    return {
        "MEDCRYPT_SERVER_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode(),
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TWILIO_ACCOUNT_SID": tw.account_sid,
        "TWILIO_AUTH_TOKEN": tw.auth_token,
        "TWILIO_WHATSAPP_FROM": tw.whatsapp_from,
    }


@dataclass
class Rig:
    tg: FakeTelegram
    tw: FakeTwilio
    bot: BotApp
    db: Path
    environ: dict[str, str]


@contextlib.asynccontextmanager
async def sandbox_platforms(port: int) -> AsyncIterator[tuple[FakeTelegram, FakeTwilio]]:
    """The fake Telegram and Twilio a sandbox bot listening on ``port`` talks to."""
    async with FakeTelegram() as tg, FakeTwilio(
            webhook_url=f"http://127.0.0.1:{port}/twilio/inbound",
            templates={TEMPLATE_SID: "You have a new secure message."}) as tw:
        yield tg, tw


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    port = free_port()
    async with sandbox_platforms(port) as (tg, tw):
        db = tmp_path / "bot.db"
        env = environ_for(tg, tw)
        bot = BotApp(settings_for(tg, tw, port, db), environ=env)
        await bot.start()
        try:
            yield Rig(tg, tw, bot, db, env)
        finally:
            await bot.stop()


# -- token builders (headers are what the bot reads; bodies are random bytes) ----------

def now_epoch() -> int:
    return epoch_of(datetime.now(UTC))


def register_token(pairing_id: bytes, *, expires_in: int = 3600) -> str:
    expires = int(datetime.now(UTC).timestamp()) + expires_in
    return encode_token(encode_register(pairing_id, now_epoch(), 7, expires))


def accept_token(pairing_id: bytes) -> str:
    from medcrypt.crypto.keyless.wire import ACCEPT_BODY_LEN

    return encode_token(encode_accept(pairing_id, b"\x01" + os.urandom(ACCEPT_BODY_LEN - 1)))


def message_token(pairing_id: bytes, direction: Direction, *, index: int = 0,
                  body_len: int = 200, epoch: int | None = None,
                  kind: Kind = Kind.MESSAGE) -> str:
    header = encode_sealed_header(kind, pairing_id, epoch=now_epoch() if epoch is None
                                  else epoch, direction=direction, index=index,
                                  nonce=os.urandom(24))
    return encode_token(header + os.urandom(body_len))
