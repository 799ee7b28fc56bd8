"""Admins the bot cannot write to yet: witness lines wait for them, durably.

Telegram lets a bot write only to users who opened the chat with it: anyone else gets
403 "bot can't initiate conversation with a user" (the sandbox answers so). Such an
admin is listed as not reachable in /admins and warned about by ``doctor``, and the
witness lines meant for them are held - not dropped - until they write to the bot.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from medcrypt.bot.cli.doctor import WARN, diagnose
from medcrypt.storage.models.outbox import OutboxMessage
from tests.support.clocks import MovableClock
from tests.support.rigs import ADMIN_A, ADMIN_B, START, Rig, live_bot, until
from tests.support.tokens import pair

SIGNING_ENV = "MEDCRYPT_AUDIT_SIGNING_KEY"


def _witnessed(rig: Rig, admin: int) -> list[str]:
    return [t for t in rig.tg_texts(admin) if t.startswith("Audit checkpoint")]


def _statuses(rig: Rig) -> list[str]:
    with rig.bot.sessions() as s:
        rows = s.execute(select(OutboxMessage.status, OutboxMessage.payload).where(
            OutboxMessage.payload_kind == "notice")).all()
    return [status for status, payload in rows
            if payload and payload.startswith(b"Audit checkpoint")]


def _outcomes(rig: Rig) -> list[tuple[str, str | None]]:
    """(status, last error code) of every witness line."""
    with rig.bot.sessions() as s:
        rows = s.execute(select(OutboxMessage.status, OutboxMessage.last_error_code,
                                OutboxMessage.payload).where(
            OutboxMessage.payload_kind == "notice")).all()
    return [(status, code) for status, code, payload in rows
            if payload and payload.startswith(b"Audit checkpoint")]


async def test_witness_lines_wait_for_an_admin_who_never_started_the_bot(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with live_bot(tmp_path, clock=MovableClock(START),
                        environ={SIGNING_ENV: base64.b64encode(os.urandom(32)).decode()},
                        export_env=monkeypatch, checkpoint_every_seconds=0.2,
                        clinic={"admin_telegram_ids": [ADMIN_A, ADMIN_B]},
                        audit={"checkpoint_every_entries": 3,
                               "post_checkpoints_to_admins": True}) as rig:
        rig.tg.user_exists(ADMIN_B)  # on Telegram, but never opened the bot's chat
        await rig.tg_says(ADMIN_A, "/help", expect="Clinic admin commands")
        for _ in range(4):  # admin commands are audited: enough for a checkpoint
            await rig.tg_says(ADMIN_A, "/jobs", expect="rotation")
        await until(lambda: _witnessed(rig, ADMIN_A), timeout=15)
        # What Telegram refused for B is held, not dead: nothing was dropped. (A line the
        # bot's first checkpoint may send before A's first message is another matter:
        # Telegram does not know A's id yet and answers 400 "chat not found".)
        await until(lambda: "held" in _statuses(rig), timeout=10)
        assert not [status for status, code in _outcomes(rig)
                    if code == "tg-403" and status in {"dead", "failed"}]

        listing = await rig.tg_says(ADMIN_A, "/admins", expect="Clinic admins")
        lines = [line for line in listing.splitlines() if line.endswith(str(ADMIN_B)[-3:])
                 or str(ADMIN_B)[-3:] in line]
        assert lines and "not reachable yet" in lines[0], listing
        assert str(ADMIN_B) not in listing  # masked, as every address there

        settings = rig.bot.settings
        checks = [c for c in diagnose(settings, environ=rig.environ)
                  if c.name == "admins reachable"]
        assert checks and checks[0].status == WARN, checks
        assert str(ADMIN_B) not in checks[0].detail

        # B opens the chat: every line held for B arrives, in order.
        held = len([s for s in _statuses(rig) if s == "held"])
        rig.tg.user_sends_text(ADMIN_B, "/start")
        await until(lambda: len(_witnessed(rig, ADMIN_B)) >= held, timeout=15)
        assert "held" not in _statuses(rig)


async def test_an_admin_who_blocks_the_bot_is_marked_unreachable_at_once(
        tmp_path: Path) -> None:
    """The bot asks Telegram for ``my_chat_member``: a block is seen when it happens,
    not only when a send fails, and an unblock makes the admin reachable again."""
    async with live_bot(tmp_path, clinic={"admin_telegram_ids": [ADMIN_A, ADMIN_B]}) as rig:
        await rig.tg_says(ADMIN_A, "/help", expect="Clinic admin commands")
        await rig.tg_says(ADMIN_B, "/help", expect="Clinic admin commands")
        masked = str(ADMIN_B)[-3:]

        def line_of_b(listing: str) -> str:
            return next(line for line in listing.splitlines() if masked in line)

        listing = await rig.tg_says(ADMIN_A, "/admins", expect="Clinic admins")
        assert "not reachable" not in line_of_b(listing), listing
        rig.tg.block_user(ADMIN_B)
        await until(lambda: rig.tg.pending_updates() == 0)
        listing = await rig.tg_says(ADMIN_A, "/admins", expect="Clinic admins")
        assert "not reachable yet" in line_of_b(listing), listing
        rig.tg.unblock_user(ADMIN_B)
        await until(lambda: rig.tg.pending_updates() == 0)
        listing = await rig.tg_says(ADMIN_A, "/admins", expect="Clinic admins")
        assert "not reachable" not in line_of_b(listing), listing


async def test_witness_lines_wait_for_a_whatsapp_admins_window(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A configured WhatsApp admin who has not written within 24 hours: their witness
    lines are held behind one PHI-free template and delivered once they write."""
    admin_wa = "+15550009999"
    async with live_bot(tmp_path,
                        environ={SIGNING_ENV: base64.b64encode(os.urandom(32)).decode(),
                                 "MEDCRYPT_ADMIN_WHATSAPP": admin_wa},
                        export_env=monkeypatch, checkpoint_every_seconds=0.2,
                        audit={"checkpoint_every_entries": 2,
                               "post_checkpoints_to_admins": True}) as rig:
        await pair(rig, os.urandom(16))  # registration and completion are audited
        await until(lambda: "held" in _statuses(rig), timeout=15)
        templates = [m for m in rig.tw.messages_to(admin_wa) if m.content_sid]
        assert len(templates) == 1
        assert not [m for m in rig.tw.messages_to(admin_wa)
                    if m.body.startswith("Audit checkpoint")]
        held = len([s for s in _statuses(rig) if s == "held"])
        result = await rig.tw.user_sends_whatsapp_async(admin_wa, "hello")
        assert result.http_status == 200

        def delivered() -> list[str]:
            return [m.body for m in rig.tw.messages_to(admin_wa)
                    if m.body.startswith("Audit checkpoint")]

        await until(lambda: len(delivered()) >= held, timeout=15)
