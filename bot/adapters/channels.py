"""Each platform as the rest of the bot may see it, and how admins name people on it.

The one place outside the platform adapters proper that spells out what differs between
Telegram and WhatsApp, as plain values (:class:`bot.domain.channels.Channel`): the
composition root puts them in the bundle, and the relay, commands and outbox read them
instead of asking which platform they are looking at. Pure and light (no PTB, no
twilio), so every ``medcrypt-bot`` command can build the bundle cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping

from medcrypt.bot.domain.channels import Channel
from medcrypt.bot.domain.config import Settings
from medcrypt.bot.domain.messages import Platform

#: Twilio: "Failed to send freeform message because you are outside the allowed window"
#: - WhatsApp's 24-hour customer-service window is closed for this recipient.
WINDOW_CLOSED = 63016
#: Twilio addresses a WhatsApp number as ``whatsapp:+<E.164>``.
WHATSAPP_PREFIX = "whatsapp:"


def whatsapp_address(number: str) -> str:
    """``+1555...`` or ``whatsapp:+1555...`` -> the form Twilio sends and expects."""
    return WHATSAPP_PREFIX + number.strip().removeprefix(WHATSAPP_PREFIX)


def whatsapp_admins(settings: Settings, environ: Mapping[str, str]) -> tuple[str, ...]:
    """The admins' WhatsApp numbers (kept in the environment: they are personal data)."""
    raw = environ.get(settings.clinic.admin_whatsapp_numbers_env, "")
    return tuple(whatsapp_address(n) for n in raw.split(",") if n.strip())


def channels(settings: Settings, environ: Mapping[str, str]) -> dict[Platform, Channel]:
    """Both platforms, enabled or not: identities of either may exist in the database."""
    return {
        Platform.TELEGRAM: Channel(
            Platform.TELEGRAM, "Telegram", settings.telegram.max_message_chars,
            config_admins=tuple(str(i) for i in settings.clinic.admin_telegram_ids),
            admin_form="telegram:<chat id>",
            # deleteMessage works in private chats for messages under 48 hours old.
            deletes_messages=True),
        Platform.WHATSAPP: Channel(
            Platform.WHATSAPP, "WhatsApp", settings.whatsapp.max_message_chars,
            window_closed_codes=frozenset({str(WINDOW_CLOSED)}),
            config_admins=whatsapp_admins(settings, environ),
            admin_form="whatsapp:+<number>"),
    }


def parse_target(arg: str) -> tuple[Platform, str] | None:
    """``telegram:<chat id>`` or ``whatsapp:+<number>``, as an admin types it, to
    (platform, address in the adapter's form); None for anything else."""
    platform, sep, rest = arg.partition(":")
    if not sep:
        return None
    if platform == Platform.TELEGRAM.value and rest.lstrip("-").isdigit() and len(rest) <= 20:
        return Platform.TELEGRAM, rest
    if platform == Platform.WHATSAPP.value and rest.startswith("+") and rest[1:].isdigit() \
            and 6 <= len(rest) <= 16:
        return Platform.WHATSAPP, whatsapp_address(rest)
    return None
