"""Signed webhooks are not replayable later: the attacks of the security review, as the
attacker runs them, through the real bot and the sandbox.

A captured, correctly signed webhook - one that changed admin roles, or any Telegram
update - must change nothing when it is posted again, however much later, and whatever
happened to the server keys in between.
"""

from __future__ import annotations

import base64
import os
from datetime import timedelta
from pathlib import Path

import httpx

from medcrypt.bot.app.bot import BotApp
from medcrypt.bot.domain import notices
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.retention import prune
from medcrypt.sandbox import FakeTelegram
from medcrypt.storage.audit import AuditLog
from tests.support.admins import CODE_RE, WA_ADMIN_1, WA_ADMIN_2, WA_NEWCOMER, wa_says
from tests.support.clocks import MovableClock
from tests.support.ports import worker_port
from tests.support.rigs import START, Rig, live_bot


async def is_admin(rig: Rig, number: str) -> bool:
    _post, reply = await wa_says(rig, number, "/admins")
    return reply != notices.ADMIN_ONLY


async def test_a_signed_admin_add_replayed_after_eight_days_adds_nothing(
        tmp_path: Path) -> None:
    """A captured /admin_add (and its confirmation) posted again once a week has passed
    and the pruning job has run: the revoked admin stays revoked."""
    async with live_bot(tmp_path, clock=MovableClock(START),
                        environ={"MEDCRYPT_ADMIN_WHATSAPP": f"{WA_ADMIN_1},{WA_ADMIN_2}"}
                        ) as rig:
        captured = []
        post, reply = await wa_says(rig, WA_ADMIN_1, f"/admin_add whatsapp:{WA_NEWCOMER}",
                                    expect="dmin")
        captured.append(post)
        asked = CODE_RE.search(reply)
        if asked:
            post, _reply = await wa_says(
                rig, WA_ADMIN_2, f"/admin_add whatsapp:{WA_NEWCOMER} {asked.group(1)}",
                expect="added")
            captured.append(post)
        assert await is_admin(rig, WA_NEWCOMER)
        _post, reply = await wa_says(rig, WA_ADMIN_1, f"/admin_remove whatsapp:{WA_NEWCOMER}",
                                     expect="dmin")
        asked = CODE_RE.search(reply)
        if asked:
            await wa_says(rig, WA_ADMIN_1,
                          f"/admin_remove whatsapp:{WA_NEWCOMER} {asked.group(1)}",
                          expect="removed")
        assert not await is_admin(rig, WA_NEWCOMER)
        for post in captured:  # the same day: a known MessageSid
            assert (await rig.tw.replay_async(post)).http_status == 403

        rig.clock.set(START + timedelta(days=8))  # type: ignore[attr-defined]
        with rig.bot.sessions.begin() as s:
            prune(s, rig.clock.now())
        replays = [await rig.tw.replay_async(post) for post in captured]
        assert not await is_admin(rig, WA_NEWCOMER), "the replay re-added a revoked admin"
        assert [r.http_status for r in replays] == [403] * len(captured)


def _webhook_settings(tg: FakeTelegram, port: int, db: Path) -> dict[str, object]:
    return {"database": {"url": f"sqlite:///{db}"},
            "telegram": {"api_base_url": tg.base_url, "api_file_url": tg.base_file_url,
                         "mode": "webhook", "webhook_url": f"https://127.0.0.1:{port}/telegram",
                         "listen_port": port, "request_timeout_seconds": 2.0},
            "whatsapp": {"enabled": False},
            "clinic": {"admin_telegram_ids": [42]},
            "monitoring": {"listen_port": 0}}


async def test_a_telegram_update_replayed_after_key_rotation_and_a_week_changes_nothing(
        tmp_path: Path) -> None:
    """Telegram's webhook: the same update posted again after the server keys were
    rotated, then again a week later after pruning, is recognised both times."""
    port, db = worker_port(), tmp_path / "w.db"
    old_key = "1:" + base64.b64encode(os.urandom(32)).decode()
    new_key = "2:" + base64.b64encode(os.urandom(32)).decode()
    update = {"update_id": 815_000_001, "message": {
        "message_id": 7, "date": int(START.timestamp()), "chat": {"id": 42, "type": "private"},
        "from": {"id": 42, "is_bot": False, "first_name": "X"}, "text": "/admins"}}
    clock = MovableClock(START)

    def admin_commands(bot: BotApp) -> int:
        log = AuditLog(bot.engine, bot.keyring, clock=clock)
        return sum(1 for e in log.export() if e.action == "admin.command")

    async def post(keys: str) -> int:
        env = {"MEDCRYPT_SERVER_KEYS": keys, "TELEGRAM_BOT_TOKEN": tg.token,
               "TELEGRAM_WEBHOOK_SECRET": "s3cret-Token_1"}
        bot = BotApp(parse_settings(_webhook_settings(tg, port, db)), environ=env, clock=clock)
        await bot.start()
        try:
            with bot.sessions.begin() as s:
                prune(s, clock.now())
            async with httpx.AsyncClient() as client:
                resp = await client.post(f"http://127.0.0.1:{port}/telegram", json=update,
                                         headers={"X-Telegram-Bot-Api-Secret-Token":
                                                  "s3cret-Token_1"})
            assert resp.status_code == 200
            return admin_commands(bot)
        finally:
            await bot.stop()

    async with FakeTelegram() as tg:
        assert await post(old_key) == 1
        assert await post(f"{new_key},{old_key}") == 1, "handled again after key rotation"
        clock.set(START + timedelta(days=8))
        assert await post(f"{new_key},{old_key}") == 1, "handled again after pruning"
