"""At a month boundary the relay gives senders the clock tolerance the companions give.

PROTOCOL §6/§9: a companion enters the next month when ``epoch(now + 5 min)`` reaches
it, so a peer whose clock runs up to five minutes ahead is read, not refused. The bot
must carry what the receiving companion would open: a patient's phone a few minutes
ahead at midnight on the 30th sends December's first message, its escrow deposit
with it, and the physician reads it. A phone further ahead is still refused as "not
valid yet". Real companions (the protocol library) on both ends, the live bot between.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from medcrypt.bot.domain import notices
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.storage.models.epochs import Epoch
from medcrypt.storage.models.escrow import EscrowDeposit
from tests.support.clocks import MovableClock
from tests.support.conversation import make_escrow, pair, say
from tests.support.rigs import ADMIN_A, PATIENT_WA, PHYSICIAN_TG, START, Rig, live_bot, until

EVE = datetime(2026, 11, 30, 23, 50, tzinfo=UTC)
DECEMBER = epoch_of(datetime(2026, 12, 1, tzinfo=UTC))


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with live_bot(tmp_path, clock=MovableClock(START), escrow=make_escrow(),
                        clinic={"admin_telegram_ids": [ADMIN_A]}) as running:
        yield running


async def _patient_sends(rig: Rig, text: str) -> None:
    result = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, text)
    assert result.http_status == 200


async def test_next_month_token_inside_the_clock_tolerance_is_relayed(rig: Rig) -> None:
    conv = await pair(rig)
    await say(rig, conv, "patient", "November: all well.")
    phone = FixedClock(datetime(2026, 12, 1, 0, 0, 30, tzinfo=UTC))  # the patient's phone

    # 10.5 minutes ahead: beyond the tolerance, refused as a key not valid yet.
    rig.clock.set(EVE)  # type: ignore[attr-defined]
    early = conv.patient.encrypt(b"Too early for December.", clock=phone)
    assert early.escrow_deposit is not None  # December entered on the phone: its deposit
    before = len(rig.tw.messages_to(PATIENT_WA))
    await _patient_sends(rig, early.token)
    await rig.tw.wait_until_async(lambda: len(rig.tw.messages_to(PATIENT_WA)) > before, 10)
    assert rig.tw.messages_to(PATIENT_WA)[-1].body == notices.EPOCH_FUTURE
    assert early.token not in rig.tg_texts(PHYSICIAN_TG)

    # 4 minutes ahead: inside the tolerance. The deposit and the message both go through.
    rig.clock.set(EVE.replace(minute=57))  # type: ignore[attr-defined]
    phone.set(datetime(2026, 12, 1, 0, 1, tzinfo=UTC))
    token = conv.patient.encrypt(b"Happy December, doctor.", clock=phone).token
    await _patient_sends(rig, early.escrow_deposit)
    await _patient_sends(rig, token)
    await until(lambda: token in rig.tg_texts(PHYSICIAN_TG))
    # The physician's companion, on the bot's (correct) clock, opens it: §6 tolerance.
    assert conv.physician.decrypt(token, clock=rig.clock).body == b"Happy December, doctor."
    with rig.bot.sessions() as s:
        state = s.scalar(select(Epoch.state).where(
            Epoch.pairing_id == conv.pairing_id.hex(), Epoch.epoch == DECEMBER))
        deposits = list(s.scalars(select(EscrowDeposit.direction).where(
            EscrowDeposit.epoch == DECEMBER)))
    assert state == "active"  # December is the month starting, not a retired one
    assert deposits == [0]  # the patient's deposit, in the patient's slot
