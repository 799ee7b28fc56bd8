"""A long token pasted into Telegram arrives in pieces; the guard waits for the rest.

Telegram clients cut a paste longer than 4096 characters into several messages sent
back to back. The bot rejoins the pieces and relays the token; only pieces that are not
rejoined within a few seconds are guarded (deleted, the sender told). Time is the
bot's injected clock, moved by the test.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from medcrypt.crypto.keyless.parts import join_parts
from medcrypt.crypto.keyless.wire import Direction, Kind, find_tokens, parse_token
from tests.support.clocks import MovableClock
from tests.support.rigs import ADMIN_A, PATIENT_WA, PHYSICIAN_TG, Rig, live_bot, until
from tests.support.tokens import message_token, pair

#: Longer than any "few seconds" a rejoin window could be, shorter than anything else.
PAST_ANY_WINDOW = timedelta(minutes=1)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with live_bot(tmp_path, clock=MovableClock(datetime.now(UTC)),
                        clinic={"admin_telegram_ids": [ADMIN_A]}) as running:
        yield running


def client_split(text: str, limit: int = 4096) -> list[str]:
    """What a Telegram client sends for a paste longer than ``limit`` characters."""
    return [text[i:i + limit] for i in range(0, len(text), limit)]


def _deleted(rig: Rig, mid: int) -> bool:
    msg = rig.tg.user_message(PHYSICIAN_TG, mid)
    return msg is not None and msg.deleted


def _wa_parts(rig: Rig) -> list[str]:
    return [t for m in rig.tw.messages_to(PATIENT_WA) for t in find_tokens(m.body)
            if parse_token(t).header.kind is Kind.PART]


async def test_a_split_paste_is_rejoined_and_relayed_not_deleted(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    token = message_token(pid, Direction.PHYSICIAN_TO_PATIENT, body_len=9000)
    pieces = client_split(token)
    assert len(pieces) == 3
    n = len(rig.tg.messages_to(PHYSICIAN_TG))
    mids = [rig.tg.user_sends_text(PHYSICIAN_TG, piece) for piece in pieces]

    def relayed() -> bool:
        try:
            return join_parts(_wa_parts(rig)) == token
        except Exception:
            return False

    await until(relayed)
    rig.clock.set(rig.clock.now() + PAST_ANY_WINDOW)  # type: ignore[attr-defined]
    rig.bot.worker.wake()
    await asyncio.sleep(1.5)  # a worker round and more: nothing deferred may fire
    assert not any(_deleted(rig, mid) for mid in mids)
    assert len(rig.tg.messages_to(PHYSICIAN_TG)) == n  # no refusal, no warning


async def test_pieces_never_completed_are_guarded_only_after_the_window(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    token = message_token(pid, Direction.PHYSICIAN_TO_PATIENT, body_len=9000)
    n = len(rig.tg.messages_to(PHYSICIAN_TG))
    mids = [rig.tg.user_sends_text(PHYSICIAN_TG, piece) for piece in client_split(token)[:2]]
    await asyncio.sleep(1.5)  # the bot has handled both, and the clock has not moved
    assert not any(_deleted(rig, mid) for mid in mids)
    assert len(rig.tg.messages_to(PHYSICIAN_TG)) == n  # the rest may still come
    rig.clock.set(rig.clock.now() + PAST_ANY_WINDOW)  # type: ignore[attr-defined]
    rig.bot.worker.wake()
    await until(lambda: all(_deleted(rig, mid) for mid in mids))
    sent = await rig.tg.wait_for_messages_async(PHYSICIAN_TG, n + 1, timeout=10)
    assert "paste" in (sent[-1].text or "")
    assert token not in rig.wa_texts() and not _wa_parts(rig)


async def test_a_stray_piece_is_guarded_at_once(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    token = message_token(pid, Direction.PHYSICIAN_TO_PATIENT, body_len=9000)
    n = len(rig.tg.messages_to(PHYSICIAN_TG))
    mid = rig.tg.user_sends_text(PHYSICIAN_TG, client_split(token)[-1])  # a tail, no head
    await until(lambda: _deleted(rig, mid))
    sent = await rig.tg.wait_for_messages_async(PHYSICIAN_TG, n + 1, timeout=10)
    assert (sent[-1].text or "").startswith("Not sent")


async def test_a_new_paste_guards_the_unfinished_one_and_is_relayed(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    first, second = (message_token(pid, Direction.PHYSICIAN_TO_PATIENT, body_len=9000)
                     for _ in range(2))
    n = len(rig.tg.messages_to(PHYSICIAN_TG))
    abandoned = rig.tg.user_sends_text(PHYSICIAN_TG, client_split(first)[0])
    mids = [rig.tg.user_sends_text(PHYSICIAN_TG, piece) for piece in client_split(second)]

    def relayed() -> bool:
        try:
            return join_parts(_wa_parts(rig)) == second
        except Exception:
            return False

    await until(relayed)
    await until(lambda: _deleted(rig, abandoned))  # at once: no window left to wait for
    sent = await rig.tg.wait_for_messages_async(PHYSICIAN_TG, n + 1, timeout=10)
    assert "paste" in (sent[-1].text or "")
    assert not any(_deleted(rig, mid) for mid in mids)
