"""Refused webhook requests leave an audit trail a forger cannot use to grow the log.

THREAT_MODEL promises "403; an audit entry" for forged webhooks, and the audit action
``webhook.forged`` existed, but nothing wrote it. Each refusal (bad Twilio signature,
replayed MessageSid, wrong Telegram secret) is now counted; the first of a quiet spell
is audited at once, the rest once a minute and when the bot stops, with their count.
A flood of forged posts therefore costs a few audit entries, not one per post.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from medcrypt.bot.domain.refusals import RefusalDigest
from tests.support.ports import worker_port
from tests.support.rigs import PATIENT_WA, Rig, live_bot

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def refused_entries(rig: Rig) -> list[dict[str, Any]]:
    return [dict(e.details or {}) for e in rig.audit_log().export()
            if e.action == "webhook.forged"]


def test_digest_reports_the_first_at_once_then_one_count_per_window() -> None:
    digest = RefusalDigest(window=timedelta(minutes=1))
    assert digest.note("whatsapp", "signature", T0) == 1
    assert [digest.note("whatsapp", "signature", T0 + timedelta(seconds=s))
            for s in range(1, 30)] == [None] * 29
    assert digest.note("telegram", "secret", T0) == 1  # another key: its own tally
    # the first refusal a window after the last entry reports everything since
    assert digest.note("whatsapp", "signature", T0 + timedelta(seconds=61)) == 30
    assert digest.note("whatsapp", "signature", T0 + timedelta(seconds=62)) is None
    assert digest.drain() == [("whatsapp", "signature", 1)]
    assert digest.drain() == []


async def test_a_flood_of_forged_twilio_posts_costs_two_audit_entries(tmp_path: Path) -> None:
    async with live_bot(tmp_path) as rig:
        for _ in range(40):
            r = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, "/start", signature="forged")
            assert r.http_status == 403
        assert refused_entries(rig) == [
            {"platform": "whatsapp", "reason": "signature", "count": 1}]
        await rig.bot.stop()  # what was still counted is audited on the way out
        assert refused_entries(rig) == [
            {"platform": "whatsapp", "reason": "signature", "count": 1},
            {"platform": "whatsapp", "reason": "signature", "count": 39}]


async def test_a_replayed_post_is_audited_as_a_replay(tmp_path: Path) -> None:
    async with live_bot(tmp_path) as rig:
        first = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, "/admins")  # recorded
        assert first.http_status == 200
        again = await rig.tw.replay_async(first)
        assert again.http_status == 403
        assert refused_entries(rig) == [{"platform": "whatsapp", "reason": "replay", "count": 1}]


async def test_a_wrong_telegram_secret_is_audited(tmp_path: Path) -> None:
    port = worker_port()
    async with live_bot(tmp_path, environ={"TELEGRAM_WEBHOOK_SECRET": "right-Secret_0123"},
                        telegram={"mode": "webhook", "listen_port": port,
                                  "webhook_url": f"https://127.0.0.1:{port}/telegram"}) as rig:
        async with httpx.AsyncClient() as client:
            for _ in range(3):
                r = await client.post(f"http://127.0.0.1:{port}/telegram", content=b"{}",
                                      headers={"X-Telegram-Bot-Api-Secret-Token": "guess"})
                assert r.status_code == 403
        assert refused_entries(rig) == [{"platform": "telegram", "reason": "secret", "count": 1}]
        await rig.bot.stop()
        assert [e["count"] for e in refused_entries(rig)] == [1, 2]
