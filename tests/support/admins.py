"""Admins as people in the sandbox: numbers an admin controls, a WhatsApp admin's chat
round, the confirmation code the bot hands out, and what the audit log says was refused.
"""

from __future__ import annotations

import asyncio
import re
import time

from medcrypt.sandbox.tw_models import InboundResult
from tests.support.rigs import POLL_SECONDS, Rig

#: The confirmation code of a risky command: ten Crockford base32 characters.
CODE_RE = re.compile(r"\bcode ([0-9A-HJKMNP-TV-Z]{10})\b")
#: A break-glass request code (ten lowercase hex characters).
REQUEST_RE = re.compile(r"request ([0-9a-f]{10}) opened")
#: A WhatsApp number admin A controls (a second phone), never configured anywhere.
A_SECOND_PHONE = "+15557770001"
#: WhatsApp numbers of two clinic admins who use only WhatsApp, and one more person.
WA_ADMIN_1 = "+15557770011"
WA_ADMIN_2 = "+15557770012"
WA_NEWCOMER = "+15557770013"


async def wa_says(rig: Rig, number: str, text: str, *, expect: str = "",
                  timeout: float = 10) -> tuple[InboundResult, str]:
    """Post ``text`` from ``number`` (signed like Twilio) and wait for a new reply that
    contains ``expect``; returns the captured post and that reply."""
    before = len(rig.tw.messages_to(number))
    posted = await rig.tw.user_sends_whatsapp_async(number, text)
    assert posted.http_status == 200, posted
    deadline = time.monotonic() + timeout
    new: list[str] = []
    while time.monotonic() < deadline:
        new = [m.body for m in rig.tw.messages_to(number)[before:] if m.body]
        hit = [t for t in new if expect in t]
        if hit:
            return posted, hit[-1]
        await asyncio.sleep(POLL_SECONDS)
    raise AssertionError(f"no reply containing {expect!r}; got {new!r}")


def refusals(rig: Rig) -> list[dict[str, object]]:
    """Details of every ``admin.refused`` entry in the bot's audit log, oldest first."""
    return [dict(e.details or {}) for e in rig.audit_log().export()
            if e.action == "admin.refused"]


def confirmation_line(reply: str) -> str:
    """The command a confirmation reply asks to send back ("... send: /unpair TAG CODE")."""
    assert "To confirm" in reply and "send: " in reply, reply
    return reply.rsplit("send: ", 1)[1].strip()


async def wa_confirmed(rig: Rig, number: str, command: str) -> InboundResult:
    """Send a risky ``command`` from WhatsApp ``number``, then the confirmation it asks
    for; returns the captured post of the confirmation."""
    _, reply = await wa_says(rig, number, command, expect="To confirm")
    return await rig.tw.user_sends_whatsapp_async(number, confirmation_line(reply))
