"""Loopback fakes of the Telegram Bot API and the Twilio Messages API (see README below)."""

from bot.sandbox.fake_telegram import FakeTelegram
from bot.sandbox.fake_twilio import FakeTwilio
from bot.sandbox.faults import FaultKind, Faults, RateLimits
from bot.sandbox.tg_models import SentMessage
from bot.sandbox.tw_models import CallbackRecord, InboundResult, MediaFetch, TwilioMessage

__all__ = ["CallbackRecord", "FakeTelegram", "FakeTwilio", "FaultKind", "Faults",
           "InboundResult", "MediaFetch", "RateLimits", "SentMessage", "TwilioMessage"]
