"""Loopback fakes of the Telegram Bot API and the Twilio Messages API (see README below)."""

from bot.sandbox.fake_telegram import FakeTelegram
from bot.sandbox.faults import FaultKind, Faults, RateLimits
from bot.sandbox.tg_models import SentMessage

__all__ = ["FakeTelegram", "FaultKind", "Faults", "RateLimits", "SentMessage"]
