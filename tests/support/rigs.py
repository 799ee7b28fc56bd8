"""A live bot between the two loopback fakes, all in the test's event loop.

The bot is the real :class:`BotApp` (PTB Application polling the fake Telegram, the
twilio Client sending to the fake Twilio, the Starlette webhook on a loopback port the
fake Twilio posts signed webhooks to). One builder, :func:`live_bot`, serves every
suite that runs it; a suite's fixture says only what its bot has switched on (admins,
escrow key, a movable clock, audit checkpoints) in the configuration sections.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import tomli_w

from medcrypt.bot.app.bot import BotApp
from medcrypt.bot.cli.escrow import public_key_text
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.lifecycle.runs import run_job
from medcrypt.crypto.clock import Clock
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.sandbox import FakeTelegram
from medcrypt.sandbox.fake_twilio import FakeTwilio
from medcrypt.storage.audit import AuditLog
from medcrypt.storage.joblock import JobBusy
from tests.support.databases import migrated
from tests.support.ports import worker_port

if TYPE_CHECKING:
    from tests.support.conversation import Escrow

PHYSICIAN_TG = 5550001
PATIENT_WA = "+15551230001"
ADMIN_A = 9990001
ADMIN_B = 9990002
TEMPLATE_SID = "HX" + "a" * 32
#: Where a movable clock starts (a Tuesday morning, early in a month).
START = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def sandbox_settings(tg: FakeTelegram, tw: FakeTwilio, port: int, db: Path,
                     **sections: dict[str, Any]) -> dict[str, Any]:
    """The config of a live bot on the sandbox, fast timeouts; ``sections`` add or extend."""
    config: dict[str, dict[str, Any]] = {
        "database": {"url": f"sqlite:///{db}"},
        "telegram": {"api_base_url": tg.base_url, "api_file_url": tg.base_file_url,
                     "poll_timeout_seconds": 1, "request_timeout_seconds": 2.0},
        "whatsapp": {"api_base_url": tw.api_base_url,
                     "public_url": f"http://127.0.0.1:{port}", "listen_port": port,
                     "request_timeout_seconds": 2.0, "template_content_sid": TEMPLATE_SID},
        # The v2 suites write tokens of the real current month: the v2 cut-off (ADR 0026)
        # must not turn them off on a calendar date; tests/bot/test_v3_relay.py sets it.
        "relay": {"outbox_lease_seconds": 3.0, "outbox_base_backoff_seconds": 0.05,
                  "outbox_max_backoff_seconds": 0.5, "v2_cutoff_date": "2100-01-01"},
        # Any free port: several bots run at once (BotApp.monitoring_port says which).
        "monitoring": {"listen_port": 0},
    }
    for name, values in sections.items():
        config[name] = {**config.get(name, {}), **values}
    return config


def write_config(path: Path, config: dict[str, Any]) -> Path:
    """Write ``config`` (e.g. from :func:`sandbox_settings`) as the bot.toml that a bot
    started as a process (``python -m medcrypt.bot --config ... run``) reads."""
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    return path


def environ_for(tg: FakeTelegram, tw: FakeTwilio) -> dict[str, str]:
    return {
        "MEDCRYPT_SERVER_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode(),
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TWILIO_ACCOUNT_SID": tw.account_sid,
        "TWILIO_AUTH_TOKEN": tw.auth_token,
        "TWILIO_WHATSAPP_FROM": tw.whatsapp_from,
    }


@contextlib.asynccontextmanager
async def sandbox_platforms(port: int) -> AsyncIterator[tuple[FakeTelegram, FakeTwilio]]:
    """The fake Telegram and Twilio a sandbox bot listening on ``port`` talks to."""
    async with FakeTelegram() as tg, FakeTwilio(
            webhook_url=f"http://127.0.0.1:{port}/twilio/inbound",
            templates={TEMPLATE_SID: "You have a new secure message."}) as tw:
        yield tg, tw


#: How often the rig's waits look again. The bot and both fakes run in the test's event
#: loop, so a short pause costs a few cheap checks; a long one is dead time after every
#: reply (a 50 ms poll cost 25 ms on average, thousands of times a run).
POLL_SECONDS = 0.01


async def until(predicate: Callable[[], object], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the sandbox")
        await asyncio.sleep(POLL_SECONDS)


@dataclass
class Rig:
    tg: FakeTelegram
    tw: FakeTwilio
    bot: BotApp
    db: Path
    environ: dict[str, str]
    clock: Clock
    escrow: Escrow | None
    config: Path  # a TOML file naming the bot's database, for the CLI commands

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
        new: list[str] = []
        while time.monotonic() < deadline:
            new = [m.text for m in self.tg.messages_to(chat)[before:] if m.text]
            hit = [t for t in new if expect in t]
            if hit:
                return hit[-1]
            await asyncio.sleep(POLL_SECONDS)
        raise AssertionError(f"no reply containing {expect!r}; got {new!r}")


@contextlib.asynccontextmanager
async def live_bot(tmp_path: Path, *, clock: Clock | None = None, escrow: Escrow | None = None,
                   environ: dict[str, str] | None = None,
                   export_env: pytest.MonkeyPatch | None = None,
                   checkpoint_every_seconds: float | None = None,
                   **sections: dict[str, Any]) -> AsyncIterator[Rig]:
    """Start the real bot on the sandbox; stop it afterwards.

    ``sections`` extend the sandbox configuration (``clinic={...}``, ``audit={...}``);
    ``escrow`` adds its public key to the clinic section; ``environ`` adds variables to
    the bot's environment, and ``export_env`` also sets them in the process environment
    (the CLI commands a test runs read that).
    """
    port = worker_port()  # the webhook's public URL is configured before it listens
    async with sandbox_platforms(port) as (tg, tw):
        db = tmp_path / "bot.db"
        if "database" not in sections:
            # The schema from this worker's template (tests/support/databases.py); the
            # bot's own migration at start then finds it at head, as on a restart.
            migrated(f"sqlite:///{db}")
        env = {**environ_for(tg, tw), **(environ or {})}
        if export_env is not None:
            for key, value in env.items():
                export_env.setenv(key, value)
        config = tmp_path / "bot.toml"
        config.write_text(f'[database]\nurl = "sqlite:///{db}"\n')
        if escrow is not None:
            sections["clinic"] = {**sections.get("clinic", {}),
                                  "escrow_public_key": public_key_text(escrow.public)}
        app = BotApp(parse_settings(sandbox_settings(tg, tw, port, db, **sections)),
                     environ=env, clock=clock)
        if checkpoint_every_seconds is not None:
            app.checkpoint_every_seconds = checkpoint_every_seconds
        await app.start()
        try:
            yield Rig(tg, tw, app, db, env, app.clock, escrow, config)
        finally:
            await app.stop()


async def run_jobs_at(rig: Rig, at: datetime, *jobs: str) -> list[dict[str, Any]]:
    """Move the clock to ``at`` and run the named jobs as of then, off the event loop
    (what ``medcrypt-bot jobs run ... --now`` does)."""
    rig.clock.set(at)  # type: ignore[attr-defined]  # a rig started with a MovableClock
    out = []
    for job in jobs:
        # The live bot's own scheduler may be running the same job (its start-up
        # catch-up, a slot the moved clock made due); as an operator would, wait for
        # that run to finish, then run it as of ``at``.
        deadline = time.monotonic() + 60
        while True:
            try:
                outcome = await asyncio.to_thread(run_job, rig.bot.services, job,
                                                  trigger="manual", now=at)
                break
            except JobBusy:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
        out.append(dict(outcome.summary))
    rig.bot.worker.wake()
    return out
