"""A v3 conversation through a live bot: key-confirmed pairing, then two ratchet sessions.

Everything a companion would do is the pure v3 API (``crypto.endpoint.v3``): the offer,
the accept, the physician's confirmation, the sessions and their deposits. The bot sees
only the token texts, on the sandbox's Telegram (physician) and WhatsApp (patient).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

from medcrypt.crypto.endpoint.session import IdentityKey
from medcrypt.crypto.endpoint.v3.deposit import PinnedKeys
from medcrypt.crypto.endpoint.v3.pairing import accept_offer_v3
from medcrypt.crypto.endpoint.v3.pinned import sign_record
from medcrypt.crypto.endpoint.v3.session import Session
from medcrypt.crypto.keyless import v3wire
from medcrypt.crypto.keyless.wire import Kind, find_tokens, parse_token
from tests.support.rigs import PATIENT_WA, PHYSICIAN_TG, until
from tests.support.v3pairing import register, replies_to, send, send_and_wait, v3_tokens_to

if TYPE_CHECKING:
    from tests.support.rigs import Rig


@dataclass
class V3Chat:
    pairing_id: bytes
    physician: Session
    patient: Session
    physician_identity: IdentityKey
    patient_identity: IdentityKey
    transcript_hash: bytes
    escrow_public: bytes

    def pinned_keys(self) -> PinnedKeys:
        """What a verified pinned-key record of this pairing yields to break-glass."""
        return PinnedKeys(self.pairing_id, self.transcript_hash, self.patient_identity.public,
                          self.physician_identity.public, self.escrow_public)

    def pinned_record(self) -> bytes:
        """The record the physician's companion signs at pairing end (PROTOCOL §34.1)."""
        return sign_record(self.physician_identity, pairing_id=self.pairing_id,
                           transcript_hash=self.transcript_hash,
                           patient_identity=self.patient_identity.public,
                           escrow_public=self.escrow_public).raw


async def pair_v3(rig: Rig, escrow_public: bytes) -> V3Chat:
    """Register, accept from WhatsApp, confirm on Telegram; both sessions ready to write."""
    doc = await register(rig, escrow_public)
    patient = IdentityKey.generate()
    side = accept_offer_v3(doc.pairing.offer.to_qr_text(), patient, clock=rig.clock)
    await send_and_wait(rig, PATIENT_WA, side.accept_token)
    await until(lambda: side.accept_token in v3_tokens_to(rig, PHYSICIAN_TG, Kind.PAIR_ACCEPT))
    doc.pairing.receive_accept(side.accept_token, clock=rig.clock)
    done = doc.pairing.decide("confirm", doc.identity, clock=rig.clock)
    await send_and_wait(rig, PHYSICIAN_TG, done.token)
    await until(lambda: done.token in v3_tokens_to(rig, PATIENT_WA, Kind.KEY_CONFIRM))
    patient_secrets = side.verify_confirmation(done.token)
    transcript = bytes(done.secrets.transcript_hash)
    return V3Chat(doc.pairing.offer.pairing_id, Session.from_pairing(done.secrets),
                  Session.from_pairing(patient_secrets), doc.identity, patient, transcript,
                  escrow_public)


def v3_messages_to(rig: Rig, account: str | int) -> list[str]:
    """The v3 MESSAGE token texts the bot delivered to ``account``, in order."""
    return [t for text in replies_to(rig, account) for t in find_tokens(text)
            if t.startswith(v3wire.PREFIX) and parse_token(t).header.kind is Kind.MESSAGE]


async def deliver(rig: Rig, sender: str | int, recipient: str | int, text: str) -> str:
    """``sender`` pastes ``text``; returns the token text ``recipient`` receives."""
    before = len(v3_messages_to(rig, recipient))
    await send(rig, sender, text)
    await until(lambda: len(v3_messages_to(rig, recipient)) > before)
    return v3_messages_to(rig, recipient)[before]


def rows(rig: Rig, sql: str, *args: object) -> list[tuple[object, ...]]:
    """Read the bot's own database (SQLite) as an operator or a thief of it would."""
    with sqlite3.connect(rig.db) as db:
        return db.execute(sql, args).fetchall()
