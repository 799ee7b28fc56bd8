"""PROTOCOL §3.4 through the live bot: a second PART at a filled position is rejected.

A sender's parts are joined by the bot (WhatsApp carries 1600 characters a message).
Two parts claiming one position with different bytes MUST be rejected - the sender is
told, the attempt is audited, and the position keeps what it held - while an
identical copy of a part (a user resending it) changes nothing and says nothing.
"""

from __future__ import annotations

import asyncio
import os

from sqlalchemy import select

from medcrypt.crypto.keyless.parts import split_token
from medcrypt.crypto.keyless.wire import Direction, encode_part, encode_token, parse_token
from medcrypt.storage.models.audit import AuditEntry
from tests.support.rigs import PATIENT_WA, PHYSICIAN_TG, Rig, until
from tests.support.tokens import message_token, pair


async def _send(rig: Rig, text: str) -> None:
    result = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, text)
    assert result.http_status == 200


def _forged_twin(part_text: str) -> str:
    """The same group, index and count as ``part_text``, other bytes."""
    part = parse_token(part_text).part
    assert part is not None
    other = bytes(b ^ 0x5A for b in part.chunk)
    return encode_token(encode_part(part.group_id, part.index, part.count, other))


async def test_a_different_part_at_a_filled_position_is_rejected(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    token = message_token(pid, Direction.PATIENT_TO_PHYSICIAN, body_len=2500)
    parts = split_token(token, 1600)
    assert len(parts) == 3
    await _send(rig, parts[0])
    before = len(rig.tw.messages_to(PATIENT_WA))
    await _send(rig, _forged_twin(parts[0]))
    await rig.tw.wait_until_async(lambda: len(rig.tw.messages_to(PATIENT_WA)) > before, 10)
    reply = rig.tw.messages_to(PATIENT_WA)[-1].body
    assert reply.startswith("Not sent") and "same place" in reply
    with rig.bot.sessions() as s:
        actions = list(s.scalars(select(AuditEntry.action)))
    assert actions.count("relay.refused") == 1
    # An identical copy is idempotent: no reply, nothing changes.
    await _send(rig, parts[0])
    for part in parts[1:]:
        await _send(rig, part)
    await until(lambda: token in rig.tg_texts(PHYSICIAN_TG))  # joined from the first bytes
    await asyncio.sleep(0.3)
    assert len(rig.tw.messages_to(PATIENT_WA)) == before + 1
    assert rig.tg_texts(PHYSICIAN_TG).count(token) == 1
