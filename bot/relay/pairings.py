"""Pairing rows: creation from PAIR_REGISTER, completion and consent from PAIR_ACCEPT.

The bot learns only what the keyless headers say: the pairing id, the start epoch, the
grace window and the offer deadline. The physician is whoever sent the registration;
the patient is whoever first sends a valid-looking acceptance for a pending pairing
(the companions verify the acceptance's MAC end to end; a stranger's forged accept
makes the physician's companion reject it, and the physician can /unpair).
"""

from __future__ import annotations

from sqlalchemy import or_, select

from bot.relay import notices
from bot.relay.context import Context
from crypto.epochs import epoch_of
from crypto.wire import Token
from storage.models.bot_relay import BotPairing


def pairings_of(ctx: Context, identity_id: str, *, statuses: tuple[str, ...] = (
        "pending", "active")) -> list[BotPairing]:
    return list(ctx.session.scalars(
        select(BotPairing).where(
            or_(BotPairing.physician_id == identity_id, BotPairing.patient_id == identity_id),
            BotPairing.status.in_(statuses),
        ).order_by(BotPairing.created_at)
    ))


def role_of(pairing: BotPairing, identity_id: str) -> str | None:
    if pairing.physician_id == identity_id:
        return "physician"
    if pairing.patient_id == identity_id:
        return "patient"
    return None


def register(ctx: Context, token: Token) -> None:
    info = token.register
    pairing_id = token.header.pairing_id
    if info is None or pairing_id is None or token.header.epoch is None:
        ctx.reply(notices.MALFORMED)
        return
    now = ctx.services.clock.now()
    if ctx.session.get(BotPairing, pairing_id) is not None:
        ctx.reply(notices.ALREADY_REGISTERED)
        return
    if info.expires_at <= int(now.timestamp()):
        ctx.reply(notices.OFFER_EXPIRED)
        return
    if token.header.epoch > epoch_of(now):
        ctx.reply(notices.EPOCH_FUTURE)
        return
    ctx.session.add(BotPairing(
        pairing_id=pairing_id, physician_id=ctx.sender_id, patient_id=None, status="pending",
        start_epoch=token.header.epoch, grace_days=info.grace_days,
        offer_expires_at=info.expires_at, created_at=now, completed_at=None, consent_at=None,
        consent_channel=None, consent_notice_version=None,
    ))
    ctx.session.flush()
    ctx.keep_identity = True
    ctx.audit("pairing_registered", pairing=pairing_id.hex())
    ctx.reply(notices.REGISTERED)


def accept(ctx: Context, token: Token, token_text: str) -> None:
    pairing_id = token.header.pairing_id
    pairing = None if pairing_id is None else ctx.session.get(BotPairing, pairing_id)
    if pairing is None:
        ctx.reply(notices.UNKNOWN_PAIRING)
        return
    if pairing.status != "pending":
        ctx.reply(notices.OFFER_USED)
        return
    if pairing.physician_id == ctx.sender_id:
        ctx.reply(notices.WRONG_SENDER)
        return
    now = ctx.services.clock.now()
    if pairing.offer_expires_at <= int(now.timestamp()):
        ctx.reply(notices.OFFER_EXPIRED)
        return
    pairing.patient_id = ctx.sender_id
    pairing.status = "active"
    pairing.completed_at = now
    pairing.consent_at = now
    pairing.consent_channel = ctx.message.platform.value
    pairing.consent_notice_version = notices.PLATFORM_WARNING_VERSION
    ctx.session.flush()
    ctx.keep_identity = True
    ctx.audit("pairing_completed", pairing=pairing.pairing_id.hex(),
              consent=notices.PLATFORM_WARNING_VERSION)
    platform_name = "WhatsApp" if ctx.message.platform.value == "whatsapp" else "Telegram"
    ctx.reply(notices.PLATFORM_WARNING.format(platform=platform_name))
    ctx.reply(notices.PAIRED_PATIENT)
    ctx.relay_token(pairing.physician_id, token_text, pairing.pairing_id)
    ctx.notify(pairing.physician_id, notices.PAIRED_PHYSICIAN)


