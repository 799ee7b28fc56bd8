"""The bot's WhatsApp sender pointed at the fake Twilio, and a token delivery to send."""

from __future__ import annotations

from medcrypt.bot.adapters.whatsapp import WhatsAppSender
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.messages import Platform
from medcrypt.bot.domain.sender import Delivery
from medcrypt.sandbox import FakeTwilio


def sender_for(tw: FakeTwilio, timeout: float) -> WhatsAppSender:
    settings = parse_settings({
        "whatsapp": {"api_base_url": tw.api_base_url, "request_timeout_seconds": timeout,
                     "global_messages_per_second": 0.0},
        "relay": {"outbox_lease_seconds": 30.0},
    })
    return WhatsAppSender(settings, tw.account_sid, tw.auth_token, tw.whatsapp_from)


def token_delivery(row: int, to: str = "whatsapp:+15550003333") -> Delivery:
    return Delivery(row_id=row, platform=Platform.WHATSAPP, address=to, kind="token",
                    body=f"[MEDCRYPT:v2:test{row}]")
