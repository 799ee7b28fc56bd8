"""Platform quirks, through the sandbox and the real bot: commands addressed to another
bot, SMS-style senders on the WhatsApp webhook."""

from __future__ import annotations

import asyncio

from tests.support.rigs import PHYSICIAN_TG, Rig, until


async def test_command_addressed_to_another_bot_is_ignored(rig: Rig) -> None:
    """``/help@OtherBot`` is for another bot: this one stays silent; ``/help@<this bot>``
    is answered. Sent in this order, so the one reply proves the first was skipped."""
    own = rig.tg.state.bot_user["username"]
    rig.tg.user_sends_text(PHYSICIAN_TG, "/help@SomeOtherClinicBot")
    rig.tg.user_sends_text(PHYSICIAN_TG, f"/help@{own}")
    await until(lambda: rig.tg_texts(PHYSICIAN_TG))
    await until(lambda: rig.tg.pending_updates() == 0)
    await asyncio.sleep(0.5)  # anything the first update caused has been sent by now
    texts = rig.tg_texts(PHYSICIAN_TG)
    assert len(texts) == 1, texts
    assert "Commands:" in texts[0]


async def test_sms_sender_gets_a_clean_refusal(rig: Rig) -> None:
    """A signed webhook from an SMS number (no ``whatsapp:`` prefix) is answered 200 with
    empty TwiML - not 400, which Twilio logs as error 11200 - and nothing is stored."""
    result = await rig.tw.user_sends_whatsapp_async("+15557770001", "/help", sms=True)
    assert result.http_status == 200, result
    assert "<Message>" not in result.response_body
    with rig.bot.sessions() as s:
        from sqlalchemy import func, select

        from medcrypt.storage.models.identities import PlatformIdentity

        assert s.scalar(select(func.count()).select_from(PlatformIdentity)) == 0
