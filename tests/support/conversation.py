"""A real conversation made with the companions' protocol library, and escrow shares.

``pair`` and ``say`` carry it through a live bot (:mod:`tests.support.rigs`): the
companions encrypt, the chat apps deliver, the test reads what arrived.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from medcrypt.bot.cli.escrow import split_key
from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint.session import (
    IdentityKey,
    PairingSession,
    accept_pairing,
    complete_pairing,
    start_pairing,
)
from tests.support.clocks import MovableClock
from tests.support.rigs import PATIENT_WA, PHYSICIAN_TG, START, until

if TYPE_CHECKING:
    from tests.support.rigs import Rig


@dataclass
class Escrow:
    private: bytes
    public: bytes
    shares: list[str]


def make_escrow(shares: int = 3, threshold: int = 2, passphrase: bytes = b"") -> Escrow:
    private = os.urandom(32)
    return Escrow(private, prim.x25519_public(private),
                  split_key(private, shares, threshold, passphrase))


@dataclass
class Conversation:
    """Physician and patient sessions plus every token and deposit they produced."""

    clock: MovableClock
    physician: PairingSession
    patient: PairingSession
    register_token: str
    accept_token: str
    pairing_id: bytes
    #: (token text, plaintext, epoch) in send order
    sent: list[tuple[str, bytes, int]] = field(default_factory=list)
    deposits: list[str] = field(default_factory=list)

    def send(self, who: str, text: str) -> tuple[str, str | None]:
        from medcrypt.crypto.keyless.epochs import epoch_of

        sender = self.physician if who == "physician" else self.patient
        result = sender.encrypt(text.encode(), clock=self.clock)
        if result.escrow_deposit is not None:
            self.deposits.append(result.escrow_deposit)
        self.sent.append((result.token, text.encode(), epoch_of(self.clock.now())))
        return result.token, result.escrow_deposit


def make_conversation(escrow_public: bytes, at: datetime) -> Conversation:
    clock = MovableClock(at)
    phys_id, pat_id = IdentityKey.generate(), IdentityKey.generate()
    pending = start_pairing(phys_id, clock=clock, escrow_public=escrow_public)
    patient, accept = accept_pairing(pending.offer.to_qr_text(), pat_id, clock=clock)
    physician = complete_pairing(pending, accept, phys_id, clock=clock)
    return Conversation(clock, physician, patient, pending.offer.registration_token(), accept,
                        physician.pairing_id)


async def pair(rig: Rig) -> Conversation:
    assert rig.escrow is not None, "a conversation needs the clinic's escrow key"
    conv = make_conversation(rig.escrow.public, START)
    conv.clock = rig.clock  # the rig's movable clock: months pass for both
    rig.tg.user_sends_text(PHYSICIAN_TG, conv.register_token)
    await rig.tg.wait_for_messages_async(PHYSICIAN_TG, 1, timeout=10)
    result = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, conv.accept_token)
    assert result.http_status == 200
    await rig.tg.wait_for_messages_async(PHYSICIAN_TG, 3, timeout=10)
    return conv


async def say(rig: Rig, conv: Conversation, who: str, text: str) -> str:
    """A companion encrypts; its deposit (if due) and token go through the chat app.

    Returns the token once the other member has received it.
    """
    token, deposit = conv.send(who, text)
    for item in ([deposit] if deposit else []) + [token]:
        if who == "physician":
            replies = len(rig.tg.messages_to(PHYSICIAN_TG))
            rig.tg.user_sends_text(PHYSICIAN_TG, item)
        else:
            replies = len(rig.tw.messages_to(PATIENT_WA))
            r = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, item)
            assert r.http_status == 200
        if item is deposit:  # the bot acknowledges a stored deposit to its sender
            if who == "physician":
                await until(lambda n=replies: len(rig.tg.messages_to(PHYSICIAN_TG)) > n)
            else:
                await until(lambda n=replies: len(rig.tw.messages_to(PATIENT_WA)) > n)
    if who == "physician":
        await until(lambda: token in rig.wa_texts())
    else:
        await until(lambda: token in rig.tg_texts(PHYSICIAN_TG))
    return token
