"""A Telegram update python-telegram-bot cannot parse never stops Telegram, nor leaks.

The attack (issue 12, item 10): one update whose ``from`` lacks ``is_bot`` - a Bot API
change, a local Bot API server or a proxy can produce one - sits in the getUpdates batch
before a physician's token. On 06f4938 PTB raised TypeError for the whole batch, the
adapter caught only TelegramError, the polling task died unnoticed, and PTB wrote the
raw batch - the patient's name and words - to the log at CRITICAL.

The bot here is the real one (in-process rig) with the real logging set-up of
``medcrypt-bot run``; the poisoned update comes from the sandbox's getUpdates.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from medcrypt.bot.app.logs import setup_logging
from medcrypt.bot.domain.config import parse_settings
from medcrypt.crypto.keyless.wire import Direction
from tests.support.rigs import PATIENT_WA, PHYSICIAN_TG, live_bot, until
from tests.support.tokens import message_token, pair

POISON_NAME = "Marisol Quintanilla-Ybarra"
POISON_TEXT = "my biopsy came back malignant, call me at 555 0199"


def poisoned_message(message_id: int) -> dict[str, Any]:
    """A message PTB 22 cannot parse (``User`` without ``is_bot``), full of PHI."""
    user = {"id": 4242001, "first_name": POISON_NAME}  # no is_bot: TypeError in PTB
    return {"message_id": message_id, "date": 1_767_000_000, "text": POISON_TEXT,
            "from": user, "chat": {"id": 4242001, "type": "private",
                                   "first_name": POISON_NAME}}


def skipped_entries(rig: Any) -> list[dict[str, Any]]:
    return [dict(e.details or {}) for e in rig.audit_log().export()
            if e.action == "platform.input_skipped"]


async def test_unparseable_update_is_skipped_and_the_next_token_is_relayed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(parse_settings({"logging": {"format": "json", "level": "INFO"}}))
    async with live_bot(tmp_path) as rig:
        pid = os.urandom(16)
        await pair(rig, pid)
        poison_id = rig.tg.inject_raw_update(poisoned_message(9001))
        token = message_token(pid, Direction.PHYSICIAN_TO_PATIENT, index=0)
        rig.tg.user_sends_text(PHYSICIAN_TG, token)  # same getUpdates batch as the poison
        await until(lambda: token in rig.wa_texts(), timeout=10)

        # Polling goes on: a later batch of its own is relayed too.
        await asyncio.sleep(0.3)
        later = message_token(pid, Direction.PHYSICIAN_TO_PATIENT, index=1)
        rig.tg.user_sends_text(PHYSICIAN_TG, later)
        await until(lambda: later in rig.wa_texts(), timeout=10)
        assert [m.body for m in rig.tw.messages_to(PATIENT_WA)].count(token) == 1

        # Confirmed: Telegram is not asked to deliver the poisoned update again.
        await until(lambda: rig.tg.pending_updates() == 0, timeout=5)
        # Audited without its content: which platform, why, and the update's id only.
        assert skipped_entries(rig) == [{"platform": "telegram", "reason": "unparseable",
                                         "update_id": poison_id}]
        assert rig.bot.health.ready()

    logged = capsys.readouterr()
    text = logged.err + logged.out
    assert "update_skipped" in text  # the operator sees that something was skipped...
    for secret in (POISON_NAME, "Marisol", "Quintanilla", "biopsy", "malignant", "0199"):
        assert secret not in text  # ...and nothing of what it said or who said it
