"""Replies longer than the destination takes arrive whole, split to the platform's limit.

The fakes refuse what the real services refuse: the Bot API answers 400 "message is too
long" above 4096 UTF-16 code units, Twilio answers 21617 above 1600 characters.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from sqlalchemy import func, select

from medcrypt.crypto.keyless.wire import find_tokens
from medcrypt.sandbox import RateLimits
from medcrypt.sandbox.tg_models import MAX_TEXT, utf16_len
from medcrypt.sandbox.tw_models import MAX_BODY_CHARS
from medcrypt.storage.models.outbox import OutboxMessage
from medcrypt.storage.models.pairings import Pairing
from tests.support.rigs import ADMIN_A, PHYSICIAN_TG, Rig, live_bot, until
from tests.support.tokens import accept_token, register_token

#: Enough messages a minute for one physician to register many pairings in a test.
BUSY = {"user_messages_per_minute": 1000}


async def _pairings(rig: Rig, physicians: list[int], patients: list[str]) -> None:
    """Each (physician, patient) pair registers and accepts one pairing."""
    for tg_user, wa_number in zip(physicians, patients, strict=True):
        pid = os.urandom(16)
        seen = len(rig.tg.messages_to(tg_user))
        rig.tg.user_sends_text(tg_user, register_token(pid))
        await until(lambda u=tg_user, n=seen: len(rig.tg.messages_to(u)) > n)  # "registered"
        result = await rig.tw.user_sends_whatsapp_async(wa_number, accept_token(pid))
        assert result.http_status == 200

    def active() -> int:
        with rig.bot.sessions() as s:
            return s.scalar(select(func.count()).select_from(Pairing).where(
                Pairing.status == "active")) or 0

    await until(lambda: active() == len(physicians), timeout=30)


def _outbox_empty(rig: Rig) -> bool:
    with rig.bot.sessions() as s:
        return not s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status.in_(("pending", "sending"))))


def _status_reply(texts: list[str]) -> list[str]:
    start = max(i for i, t in enumerate(texts) if t.startswith("Pairing 1 ("))
    return texts[start:]


async def test_status_of_31_pairings_reaches_a_telegram_physician_whole(
        tmp_path: Path) -> None:
    async with live_bot(tmp_path, clinic={"admin_telegram_ids": [ADMIN_A]},
                        relay=BUSY) as rig:
        patients = [f"+1555123{n:04d}" for n in range(31)]
        await _pairings(rig, [PHYSICIAN_TG] * 31, patients)
        before = len(rig.tg.messages_to(PHYSICIAN_TG))
        rig.tg.user_sends_text(PHYSICIAN_TG, "/status")

        def whole() -> bool:
            texts = [m.text or "" for m in rig.tg.messages_to(PHYSICIAN_TG)[before:]]
            return any("Pairing 31 (" in t for t in texts)

        await until(whole, timeout=15)
        texts = [m.text or "" for m in rig.tg.messages_to(PHYSICIAN_TG)[before:]]
        assert len(texts) >= 2  # it did not fit one message
        assert all(utf16_len(t) <= MAX_TEXT for t in texts)
        reply = "\n".join(_status_reply(texts))
        for n in range(1, 32):  # every pairing, each line whole, in order
            assert re.search(rf"Pairing {n} \([0-9A-Z]{{3}}-[0-9A-Z]{{3}}\): you are the "
                             r"physician; active\.", reply)
        assert reply.index("Pairing 9 (") < reply.index("Pairing 10 (") < reply.index(
            "Pairing 31 (")
        assert not [line for line in reply.splitlines()
                    if line.startswith("  Key month") and "UTC." not in line]


async def test_status_of_many_pairings_reaches_a_whatsapp_patient_whole(
        tmp_path: Path) -> None:
    async with live_bot(tmp_path, clinic={"admin_telegram_ids": [ADMIN_A]},
                        relay=BUSY) as rig:
        patient = "+15559870001"
        physicians = [5551000 + n for n in range(12)]
        await _pairings(rig, physicians, [patient] * 12)
        before = len(rig.tw.messages_to(patient))
        result = await rig.tw.user_sends_whatsapp_async(patient, "/status")
        assert result.http_status == 200

        def bodies() -> list[str]:
            return [m.body for m in rig.tw.messages_to(patient)[before:] if m.body]

        await until(lambda: any("Pairing 12 (" in b for b in bodies()), timeout=15)
        assert len(bodies()) >= 2
        assert all(len(b) <= MAX_BODY_CHARS for b in bodies())
        reply = "\n".join(_status_reply(bodies()))
        for n in range(1, 13):
            assert re.search(rf"Pairing {n} \([0-9A-Z]{{3}}-[0-9A-Z]{{3}}\): you are the "
                             r"patient; active\.", reply)
        assert not find_tokens(reply)


async def test_a_split_reply_interrupted_by_flood_control_resumes_without_repeats(
        tmp_path: Path) -> None:
    """Telegram allows about one message a second per chat: the second piece of a long
    /status gets 429. The retry continues with that piece - it does not start over, which
    would repeat the first piece and, under the same limit, never get past the second."""
    async with live_bot(tmp_path, clinic={"admin_telegram_ids": [ADMIN_A]},
                        relay=BUSY) as rig:
        await _pairings(rig, [PHYSICIAN_TG] * 31, [f"+1555123{n:04d}" for n in range(31)])
        # Every pairing notice delivered first: under the 1/s limit below, a backlog of
        # them would queue ahead of /status in the physician's chat.
        await until(lambda: _outbox_empty(rig), timeout=30)
        await asyncio.sleep(1.1)  # the pairing replies' sends are long past
        rig.tg.rate_limits = RateLimits(per_chat_per_second=1.0, per_chat_burst=1)
        before = len(rig.tg.messages_to(PHYSICIAN_TG))
        rig.tg.user_sends_text(PHYSICIAN_TG, "/status")

        def texts() -> list[str]:
            return [m.text or "" for m in rig.tg.messages_to(PHYSICIAN_TG)[before:]]

        await until(lambda: any("Pairing 31 (" in t for t in texts()), timeout=15)
        reply = "\n".join(texts())
        assert reply.count("Pairing 1 (") == 1, texts()
        assert reply.count("Pairing 31 (") == 1
