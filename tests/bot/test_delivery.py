"""Delivery semantics: per-chat 429, the WhatsApp window, statuses, permanent failures."""

from __future__ import annotations

import asyncio
import os
import time

from sqlalchemy import select

from medcrypt.bot.domain import notices
from medcrypt.crypto.keyless.tags import tag_of
from medcrypt.crypto.keyless.wire import Direction
from medcrypt.storage.models.outbox import OutboxMessage
from tests.support.admins import wa_confirmed
from tests.support.rigs import PATIENT_WA, PHYSICIAN_TG, TEMPLATE_SID, Rig
from tests.support.scheduling import TIMING_GATE
from tests.support.tokens import message_token, pair

OTHER_TG = 5550002


@TIMING_GATE
async def test_429_for_one_chat_delays_only_that_chat(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    rig.tg.inject_429(PHYSICIAN_TG, retry_after=2, times=1)
    t0 = time.monotonic()
    token = message_token(pid, Direction.PATIENT_TO_PHYSICIAN)
    n = len(rig.tg.messages_to(PHYSICIAN_TG))
    await rig.tw.user_sends_whatsapp_async(PATIENT_WA, token)
    # Meanwhile another chat is served at once.
    rig.tg.user_sends_text(OTHER_TG, "/help")
    await rig.tg.wait_for_messages_async(OTHER_TG, 1, timeout=5)
    other_latency = time.monotonic() - t0
    sent = await rig.tg.wait_for_messages_async(PHYSICIAN_TG, n + 1, timeout=10)
    delayed = time.monotonic() - t0
    assert sent[-1].text == token
    assert other_latency < 1.5
    assert delayed >= 2.0


async def test_closed_window_sends_template_then_delivers_after_reply(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    await rig.tw.wait_until_async(lambda: len(rig.tw.messages_to(PATIENT_WA)) >= 2)
    rig.tw.close_window(PATIENT_WA)
    token = message_token(pid, Direction.PHYSICIAN_TO_PATIENT)
    rig.tg.user_sends_text(PHYSICIAN_TG, token)
    await rig.tw.wait_until_async(lambda: any(
        m.content_sid == TEMPLATE_SID for m in rig.tw.messages_to(PATIENT_WA)), timeout=10)
    await asyncio.sleep(0.5)
    assert not any(m.body == token for m in rig.tw.messages_to(PATIENT_WA))
    with rig.bot.sessions() as s:
        held = s.scalars(select(OutboxMessage).where(OutboxMessage.status == "held")).all()
        assert len(held) == 1
    # The patient replies: the window reopens and the held token goes out.
    await rig.tw.user_sends_whatsapp_async(PATIENT_WA, "/help")
    await rig.tw.wait_until_async(lambda: any(
        m.body == token and m.status in ("sent", "delivered")
        for m in rig.tw.messages_to(PATIENT_WA)), timeout=10)
    templates = [m for m in rig.tw.messages_to(PATIENT_WA) if m.content_sid == TEMPLATE_SID]
    assert len(templates) == 1


async def test_delivery_statuses_are_recorded(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    token = message_token(pid, Direction.PHYSICIAN_TO_PATIENT)
    rig.tg.user_sends_text(PHYSICIAN_TG, token)

    def delivered() -> bool:
        with rig.bot.sessions() as s:
            return s.scalar(select(OutboxMessage.id).where(
                OutboxMessage.payload_kind == "text",
                OutboxMessage.delivery_status == "delivered",
                OutboxMessage.delivered_at.is_not(None))) is not None

    await rig.tw.wait_until_async(delivered, timeout=10)
    with rig.bot.sessions() as s:  # telegram results recorded as "sent" with a message id
        row = s.scalar(select(OutboxMessage).where(OutboxMessage.payload_kind == "text",
                                                   OutboxMessage.delivery_status == "sent"))
        assert row is not None and row.platform_message_id


async def test_permanent_failure_is_told_to_the_sender(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    rig.tg.block_user(PHYSICIAN_TG)
    token = message_token(pid, Direction.PATIENT_TO_PHYSICIAN)
    await rig.tw.user_sends_whatsapp_async(PATIENT_WA, token)
    await rig.tw.wait_until_async(lambda: any(
        m.body == notices.DELIVERY_FAILED for m in rig.tw.messages_to(PATIENT_WA)), timeout=10)
    with rig.bot.sessions() as s:  # failed rows keep their payload until pruned
        assert s.scalar(select(OutboxMessage.status).where(
            OutboxMessage.payload == token.encode())) == "failed"


async def test_undelivered_status_callback_is_told_to_the_sender(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    rig.tw.set_undeliverable(f"whatsapp:{PATIENT_WA}")
    rig.tg.user_sends_text(PHYSICIAN_TG, message_token(pid, Direction.PHYSICIAN_TO_PATIENT))
    await rig.tw.wait_until_async(lambda: any(
        m.text == notices.DELIVERY_FAILED for m in rig.tg.messages_to(PHYSICIAN_TG)),
        timeout=15)


async def test_twilio_429_and_5xx_are_retried(rig: Rig) -> None:
    from medcrypt.sandbox import Faults

    pid = os.urandom(16)
    await pair(rig, pid)
    rig.tw.inject_429(f"whatsapp:{PATIENT_WA}", times=2)
    token = message_token(pid, Direction.PHYSICIAN_TO_PATIENT)
    rig.tg.user_sends_text(PHYSICIAN_TG, token)
    await rig.tw.wait_until_async(lambda: any(
        m.body == token for m in rig.tw.messages_to(PATIENT_WA)), timeout=10)
    from medcrypt.sandbox import FaultKind

    rig.tw.faults = Faults(error_rate=1.0, methods=frozenset({"Messages.create"}))
    token2 = message_token(pid, Direction.PHYSICIAN_TO_PATIENT, index=1)
    rig.tg.user_sends_text(PHYSICIAN_TG, token2)
    await rig.tw.wait_until_async(lambda: sum(
        r.fault is FaultKind.ERROR for r in rig.tw.requests) >= 2, timeout=10)
    rig.tw.faults = Faults()
    await rig.tw.wait_until_async(lambda: any(
        m.body == token2 for m in rig.tw.messages_to(PATIENT_WA)), timeout=10)
    sid = next(m.sid for m in rig.tw.messages_to(PATIENT_WA) if m.body == token2)

    def recorded() -> bool:
        with rig.bot.sessions() as s:
            return s.scalar(select(OutboxMessage.id).where(
                OutboxMessage.platform_message_id == sid)) is not None

    await rig.tw.wait_until_async(recorded, timeout=10)
    with rig.bot.sessions() as s:  # (the body itself is cleared once delivered)
        row = s.scalar(select(OutboxMessage).where(OutboxMessage.platform_message_id == sid))
        assert row is not None and row.attempts >= 2


async def test_unpair_and_delete_me(rig: Rig) -> None:
    from medcrypt.storage.models.identities import PlatformIdentity
    from medcrypt.storage.models.pairings import Pairing

    pid = os.urandom(16)
    await pair(rig, pid)
    n = len(rig.tg.messages_to(PHYSICIAN_TG))
    await wa_confirmed(rig, PATIENT_WA, "/unpair")
    sent = await rig.tg.wait_for_messages_async(PHYSICIAN_TG, n + 1, timeout=10)
    assert sent[-1].text == notices.PARTNER_UNPAIRED.format(tag=tag_of(pid))
    # After unpairing, tokens for the pairing are refused.
    rig.tg.user_sends_text(PHYSICIAN_TG, message_token(pid, Direction.PHYSICIAN_TO_PATIENT))
    sent = await rig.tg.wait_for_messages_async(PHYSICIAN_TG, n + 2, timeout=10)
    assert sent[-1].text == notices.PAIRING_INACTIVE
    r = await wa_confirmed(rig, PATIENT_WA, "/delete_me")
    assert r.http_status == 200 and "has been deleted" in r.response_body
    with rig.bot.sessions() as s:
        live = [i.platform for i in s.scalars(select(PlatformIdentity))
                if i.deleted_at is None]
        assert live == ["telegram"]  # only the physician is left
        erased = s.scalar(select(PlatformIdentity).where(PlatformIdentity.deleted_at.is_not(None)))
        assert erased is not None and erased.address is None and erased.address_bidx is None
        pairing = s.scalar(select(Pairing))
        assert pairing is not None and pairing.status == "erased"


async def test_per_user_rate_limit_replies_politely_once(rig: Rig) -> None:
    rig.bot.intake._limiter._rate = 1 / 60  # type: ignore[attr-defined]  # 1 per minute
    rig.bot.intake._limiter._burst = 1.0  # type: ignore[attr-defined]
    for _ in range(4):
        rig.tg.user_sends_text(9990001, "/help")
    sent = await rig.tg.wait_for_messages_async(9990001, 2, timeout=10)
    await asyncio.sleep(0.5)
    texts = [m.text for m in rig.tg.messages_to(9990001)]
    assert len(texts) == 2 and texts[1] == notices.RATE_LIMITED
    intro = notices.HELP_INTRO_COMMANDS.split("{")[0]
    assert texts[0].startswith(intro) and "/audit_verify" in texts[0]  # an admin
    assert sent


@TIMING_GATE
async def test_global_pacing_keeps_telegram_under_its_overall_limit(rig: Rig) -> None:
    from medcrypt.sandbox import RateLimits

    rig.tg.rate_limits = RateLimits(per_chat_per_second=1000.0, per_chat_burst=1000,
                                    global_per_second=30.0, global_burst=30)
    rig.bot.intake._limiter._rate = 0  # type: ignore[attr-defined]  # no per-user limit
    admin = 9990001
    rig.tg.user_sends_text(admin, "/admins")  # an admin command: the identity is kept
    await rig.tg.wait_for_messages_async(admin, 1, timeout=10)
    t0 = time.monotonic()
    for _ in range(60):
        rig.tg.user_sends_text(admin, "/help")
    await rig.tg.wait_for_messages_async(admin, 61, timeout=20)
    assert time.monotonic() - t0 >= 0.9  # 60 sends at 30/s with a burst of 30
    with rig.bot.sessions() as s:
        codes = set(s.scalars(select(OutboxMessage.last_error_code)))
    assert "tg-429" not in codes
