"""Each platform as the rest of the bot may see it, and how admins name people on it.

The one place outside the platform adapters proper that spells out what differs between
Telegram and WhatsApp, as plain values (:class:`bot.domain.channels.Channel`): the
composition root puts them in the bundle, and the relay, commands and outbox read them
instead of asking which platform they are looking at. Pure and light (no PTB, no
twilio), so every ``medcrypt-bot`` command can build the bundle cheaply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from medcrypt.bot.domain.channels import Channel
from medcrypt.bot.domain.config import Settings
from medcrypt.bot.domain.i18n import N_
from medcrypt.bot.domain.messages import Platform
from medcrypt.bot.domain.splitting import utf16_units
from medcrypt.crypto.errors import ConfigError, MalformedToken
from medcrypt.crypto.keyless import pdf_wrap
from medcrypt.storage.normalize import normalize_phone

#: Twilio: "Failed to send freeform message because you are outside the allowed window"
#: - WhatsApp's 24-hour customer-service window is closed for this recipient.
WINDOW_CLOSED = 63016
#: Twilio addresses a WhatsApp number as ``whatsapp:+<E.164>``.
WHATSAPP_PREFIX = "whatsapp:"


def whatsapp_address(number: str) -> str:
    """``+1555...`` or ``whatsapp:+1555...`` -> the form Twilio sends and expects."""
    return WHATSAPP_PREFIX + number.strip().removeprefix(WHATSAPP_PREFIX)


def _bare_key(platform: Platform, address: str) -> str:
    """The in-memory person key of an admin configured with one identity only: opaque,
    so a key that reaches an error message or a debugger names no number."""
    digest = hashlib.sha256(f"{platform.value}:{address}".encode()).hexdigest()[:16]
    return f"config:{platform.value}#{digest}"


def whatsapp_admins(settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """The admins' WhatsApp numbers (kept in the environment: they are personal data),
    each mapped to its person's key: ``<handle>=<number>`` joins the configured person
    with that handle, a bare number is a person of its own. Errors name the variable and
    the entry's position, never the number."""
    var = settings.clinic.admin_whatsapp_numbers_env
    key = "clinic.admin_whatsapp_numbers_env"
    handles = {person.handle for person in settings.clinic.admins}
    found: dict[str, str] = {}
    entries = [e.strip() for e in environ.get(var, "").split(",") if e.strip()]
    for n, entry in enumerate(entries, start=1):
        handle, sep, number = entry.rpartition("=")
        handle = handle.strip()
        try:
            address = whatsapp_address(normalize_phone(number))
        except MalformedToken:
            raise ConfigError(key, f"entry {n} of {var} is not a phone number") from None
        if sep and handle not in handles:
            raise ConfigError(key, f"entry {n} of {var} names admin {handle!r}, who is not "
                                   "in clinic.admins") from None
        if address in found:
            raise ConfigError(key, f"entry {n} of {var} repeats a number")
        found[address] = f"config:{handle}" if sep else _bare_key(Platform.WHATSAPP, address)
    return found


def telegram_admins(settings: Settings) -> dict[str, str]:
    """The admins' Telegram ids (chat ids of their private chats), each mapped to its
    person's key; ``clinic.admin_telegram_ids`` are persons of one identity each."""
    found = {str(i): _bare_key(Platform.TELEGRAM, str(i))
             for i in settings.clinic.admin_telegram_ids}
    for person in settings.clinic.admins:
        found.update({str(i): f"config:{person.handle}" for i in person.telegram_ids})
    return found


def _one_person_or_two(settings: Settings, whatsapp: Mapping[str, str]) -> None:
    """Refuse admins listed on both platforms without persons.

    A Telegram id in ``admin_telegram_ids`` and a bare number in the environment are two
    persons to the bot. Before admins were persons, listing one admin on both platforms
    was written exactly so - and would now let that admin approve their own break-glass
    request. The bot cannot tell; the operator must say who is who.
    """
    bare_numbers = any(key == _bare_key(Platform.WHATSAPP, address)
                       for address, key in whatsapp.items())
    if settings.clinic.admin_telegram_ids and bare_numbers:
        raise ConfigError(
            "clinic.admins", "admins are listed on Telegram (clinic.admin_telegram_ids) and "
            f"as bare numbers in {settings.clinic.admin_whatsapp_numbers_env} without saying "
            "which identities are the same person: list each admin in [[clinic.admins]] "
            "with a handle, and write their numbers as <handle>=<number> "
            "(see config.example.toml)")


def channels(settings: Settings, environ: Mapping[str, str]) -> dict[Platform, Channel]:
    """Both platforms, enabled or not: identities of either may exist in the database."""
    whatsapp = whatsapp_admins(settings, environ)
    _one_person_or_two(settings, whatsapp)
    return {
        Platform.TELEGRAM: Channel(
            Platform.TELEGRAM, "Telegram", settings.telegram.max_message_chars,
            config_admins=telegram_admins(settings),
            admin_form=N_("telegram:<chat id>"),
            # deleteMessage works in private chats for messages under 48 hours old.
            deletes_messages=True,
            # sendMessage counts its 4096 in UTF-16 code units ("message is too long").
            measure=utf16_units,
            max_file_in=min(settings.relay.max_file_bytes, settings.telegram.max_download_bytes),
            max_file_out=min(settings.relay.max_file_bytes, settings.telegram.max_upload_bytes)),
        Platform.WHATSAPP: Channel(
            Platform.WHATSAPP, "WhatsApp", settings.whatsapp.max_message_chars,
            window_closed_codes=frozenset({str(WINDOW_CLOSED)}),
            config_admins=whatsapp,
            admin_form=N_("whatsapp:+<number>"),
            max_file_in=min(settings.relay.max_file_bytes, settings.whatsapp.max_media_bytes),
            # Delivered inside a PDF (ADR 0023): the wrapper must fit the limit too.
            max_file_out=min(settings.relay.max_file_bytes,
                             settings.whatsapp.max_media_bytes - pdf_wrap.MAX_OVERHEAD)),
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
