"""v3 pairing through a live bot: the companions' pure pairing API, the chat apps' fakes.

The physician's companion registers on Telegram and confirms there; patients, thieves
and strangers answer from WhatsApp or Telegram accounts of their own. Every token is
real (made by :mod:`crypto.endpoint.v3.pairing`); what arrives is read from the fakes.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint.session import IdentityKey
from medcrypt.crypto.endpoint.v3.physician import PhysicianPairing, create_offer_v3
from medcrypt.crypto.keyless import pairing_wire as pw
from medcrypt.crypto.keyless.wire import Direction, Kind, encode_token, find_tokens, parse_token
from tests.support.rigs import PATIENT_WA, PHYSICIAN_TG, until
from tests.support.tokens import v3_message_token

if TYPE_CHECKING:
    from tests.support.rigs import Rig

THIEF_WA = "+15559990002"
_TWIML = re.compile(r"<Message>(.*?)</Message>", re.S)
STRANGER_TG = 7770001
THIEF_TG = 7770002


@dataclass
class Doctor:
    identity: IdentityKey
    pairing: PhysicianPairing


def replies_to(rig: Rig, account: str | int) -> list[str]:
    """Every text the bot sent to a WhatsApp number (str) or Telegram chat (int)."""
    if isinstance(account, int):
        return [m.text for m in rig.tg.messages_to(account) if m.text]
    return [m.body for m in rig.tw.messages_to(account) if m.body]


async def send(rig: Rig, account: str | int, text: str) -> tuple[int, list[str]]:
    """``account`` writes ``text``; returns how many replies it had before, and the
    replies the bot gave in its webhook answer (TwiML: how a WhatsApp stranger, of whom
    nothing is stored, is answered)."""
    before = len(replies_to(rig, account))
    if isinstance(account, int):
        rig.tg.user_sends_text(account, text)
        return before, []
    result = await rig.tw.user_sends_whatsapp_async(account, text)
    assert result.http_status == 200
    return before, [html.unescape(m) for m in _TWIML.findall(result.response_body)]


async def send_and_wait(rig: Rig, account: str | int, text: str,
                        expect: str | None = None) -> list[str]:
    """``account`` writes ``text`` and gets at least one reply (one containing
    ``expect``, when given); returns the new replies.

    Give ``expect`` where an earlier step's notice may still be on its way to the same
    chat: without it, that late notice would count as the answer.
    """
    before, direct = await send(rig, account, text)
    if direct:
        return direct

    def answered() -> bool:
        new = replies_to(rig, account)[before:]
        return any(expect in r for r in new) if expect else bool(new)

    await until(answered)
    return replies_to(rig, account)[before:]


async def register(rig: Rig, escrow_public: bytes | None = None) -> Doctor:
    """A physician's companion makes a v3 offer and registers it with the bot (escrowed
    to ``escrow_public``, or to a key nobody holds)."""
    identity = IdentityKey.generate()
    pairing = create_offer_v3(identity.public, clock=rig.clock,
                              escrow_public=escrow_public or os.urandom(32))
    # Wait for the registration's own answer: notices of an earlier pairing (an abort,
    # a count of answers) may still be arriving in the physician's chat.
    before, _ = await send(rig, PHYSICIAN_TG, pairing.offer.registration_token())
    await until(lambda: any("registered" in r for r in replies_to(rig, PHYSICIAN_TG)[before:]))
    return Doctor(identity, pairing)


def v3_tokens_to(rig: Rig, account: str | int, kind: Kind) -> list[str]:
    """The v3 tokens of ``kind`` the bot delivered to ``account``."""
    return [t for text in replies_to(rig, account) for t in find_tokens(text)
            if t.startswith("[MEDCRYPT:v3:") and parse_token(t).header.kind is kind]


def junk_accept(pairing_id: bytes) -> str:
    """What a stranger who knows only the pairing id can send."""
    ident = IdentityKey.generate()
    prefix = pw.accept_prefix(pairing_id, os.urandom(32),
                              prim.x25519_public(os.urandom(32)), ident.public)
    return encode_token(pw.encode_accept_v3(prefix, os.urandom(64)))


async def reaches(rig: Rig, pairing_id: bytes, account: str) -> bool:
    """Whether a physician→patient MESSAGE of this pairing is delivered to ``account``
    (the relay's own view of who the bound patient is)."""
    token = v3_message_token(pairing_id, Direction.PHYSICIAN_TO_PATIENT)
    await send(rig, PHYSICIAN_TG, token)
    try:
        await until(lambda: any(token in r for r in replies_to(rig, account)), timeout=4)
    except AssertionError:
        return False
    return True


__all__ = ["PATIENT_WA", "PHYSICIAN_TG"]
