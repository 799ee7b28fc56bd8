"""Wire tokens for the relay tests, built with the keyless codec.

The bot only reads headers, so a real header over random "ciphertext" is
indistinguishable from a token a companion made. ``pair`` registers and accepts a
pairing with such tokens through a running bot.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.crypto.keyless.wire import (
    ACCEPT_BODY_LEN,
    Direction,
    Kind,
    encode_accept,
    encode_register,
    encode_sealed_header,
    encode_token,
)
from tests.support.rigs import PATIENT_WA, PHYSICIAN_TG

if TYPE_CHECKING:
    from tests.support.rigs import Rig


def now_epoch() -> int:
    return epoch_of(datetime.now(UTC))


def register_token(pairing_id: bytes, *, expires_in: int = 3600) -> str:
    expires = int(datetime.now(UTC).timestamp()) + expires_in
    return encode_token(encode_register(pairing_id, now_epoch(), 7, expires))


def accept_token(pairing_id: bytes) -> str:
    return encode_token(encode_accept(pairing_id, b"\x01" + os.urandom(ACCEPT_BODY_LEN - 1)))


def message_token(pairing_id: bytes, direction: Direction, *, index: int = 0,
                  body_len: int = 200, epoch: int | None = None,
                  kind: Kind = Kind.MESSAGE) -> str:
    header = encode_sealed_header(kind, pairing_id, epoch=now_epoch() if epoch is None
                                  else epoch, direction=direction, index=index,
                                  nonce=os.urandom(24))
    return encode_token(header + os.urandom(body_len))


def v3_message_token(pairing_id: bytes, direction: Direction, *, index: int = 0,
                     body_len: int = 200, epoch: int | None = None) -> str:
    """A v3 MESSAGE the relay routes like a real one (random body, no deposit)."""
    from medcrypt.crypto.keyless import v3wire

    month = now_epoch() if epoch is None else epoch
    header = v3wire.encode_header(pairing_id, epoch=month, direction=direction,
                                  chain_id=os.urandom(32), chain_epoch=month, index=index,
                                  prev_epoch=0, prev_len=0, nonce=os.urandom(24))
    return v3wire.encode_text(v3wire.encode_message(header, None, os.urandom(body_len)))


async def pair(rig: Rig, pairing_id: bytes) -> None:
    """Physician registers on Telegram; patient accepts on WhatsApp."""
    rig.tg.user_sends_text(PHYSICIAN_TG, register_token(pairing_id))
    await rig.tg.wait_for_messages_async(PHYSICIAN_TG, 1, timeout=10)  # "registered"
    result = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, accept_token(pairing_id))
    assert result.http_status == 200
    await rig.tg.wait_for_messages_async(PHYSICIAN_TG, 3, timeout=10)  # accept + notice
    # The patient saw the platform warning and the confirmation.
    await rig.tw.wait_until_async(lambda: len(rig.tw.messages_to(PATIENT_WA)) >= 2)
