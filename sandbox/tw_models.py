"""Twilio Messages API objects and errors as the fake returns them.

The Message JSON has every property of the OpenAPI schema ``api.v2010.account.message``
(twilio-oai ``twilio_api_v2010.json``; the list is pinned in
tests/sandbox/required_fields.py), with Twilio's conventions: string counters
(``num_media``, ``num_segments``), RFC 2822 dates, ``null`` price until billed. Errors use
Twilio's legacy JSON error shape, which twilio-python turns into ``TwilioRestException``
with ``.code`` set.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import Any

API_VERSION = "2010-04-01"
MAX_BODY_CHARS = 1600
MAX_MEDIA = 10
#: Media types Twilio documents as accepted for WhatsApp ("Accepted content types for
#: media"), each with the leading bytes its files start with (None: not checked here).
#: Twilio checks that a file's Content-Type matches its bytes and refuses the others.
WHATSAPP_MEDIA_TYPES: dict[str, tuple[bytes, ...] | None] = {
    "image/jpeg": (b"\xff\xd8\xff",), "image/jpg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",), "image/webp": (b"RIFF",),
    "audio/ogg": (b"OggS",), "audio/amr": (b"#!AMR",), "audio/3gpp": None,
    "audio/aac": None, "audio/mpeg": None, "video/mp4": None,
    "application/pdf": (b"%PDF-",), "application/msword": (b"\xd0\xcf\x11\xe0",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (b"PK",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (b"PK",),
    "text/vcard": (b"BEGIN:VCARD",), "text/x-vcard": (b"BEGIN:VCARD",),
}
#: WhatsApp's size limits through Twilio: a whole message under 16 MB, an image 5 MB.
WHATSAPP_MAX_MEDIA_BYTES = 16 * 1000 * 1000
WHATSAPP_MAX_IMAGE_BYTES = 5 * 1000 * 1000
#: Twilio's error codes for media it will not deliver.
ERROR_MEDIA_TYPE = 12300  # "Invalid Content-Type"
ERROR_MEDIA_SIZE = 11751  # "Media exceeds messaging provider size limit"


def whatsapp_media_error(content_type: str | None, data: bytes) -> int | None:
    """The error code Twilio fails a WhatsApp message with for this media, or None."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind not in WHATSAPP_MEDIA_TYPES:
        return ERROR_MEDIA_TYPE
    magic = WHATSAPP_MEDIA_TYPES[kind]
    if magic is not None and not data.startswith(magic):
        return ERROR_MEDIA_TYPE  # the header does not match the file
    limit = WHATSAPP_MAX_IMAGE_BYTES if kind.startswith("image/") else WHATSAPP_MAX_MEDIA_BYTES
    return ERROR_MEDIA_SIZE if len(data) > limit else None
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€")


def new_sid(prefix: str) -> str:
    """Twilio SIDs: two-letter type prefix and 32 lowercase hex digits."""
    return prefix + secrets.token_hex(16)


def rfc2822(at: datetime | None) -> str | None:
    return format_datetime(at) if at is not None else None


def whatsapp_address(number: str) -> str:
    """``+1555...`` or ``whatsapp:+1555...`` -> ``whatsapp:+1555...``."""
    bare = number.removeprefix("whatsapp:")
    if not E164.match(bare):
        raise ValueError("not an E.164 number")
    return "whatsapp:" + bare


def num_segments(to: str, body: str) -> int:
    """WhatsApp counts one segment; SMS splits at 160/153 GSM-7 or 70/67 UCS-2 units."""
    if to.startswith("whatsapp:") or not body:
        return 1
    if all(ch in GSM7 for ch in body):
        return 1 if len(body) <= 160 else -(-len(body) // 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)


class TwilioApiError(Exception):
    """A Twilio REST error answer (legacy shape: code, message, more_info, status)."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message,
                "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
                "status": self.status}


def auth_error() -> TwilioApiError:
    return TwilioApiError(401, 20003, "Authenticate")


def window_error() -> TwilioApiError:
    return TwilioApiError(
        400, 63016, "Failed to send freeform message because you are outside the allowed "
                    "window. If you are using WhatsApp, please use a Message Template.")


@dataclass
class MediaFetch:
    """One download the fake made of a MediaUrl, like WhatsApp fetching the attachment."""

    url: str
    status: int
    content_type: str | None
    data: bytes
    error: str | None = None


@dataclass
class TwilioMessage:
    """An outbound message the bot created, with its delivery history."""

    sid: str
    account_sid: str
    to: str
    from_: str | None
    body: str
    media_urls: list[str]
    status_callback: str | None
    content_sid: str | None
    content_variables: str | None
    messaging_service_sid: str | None
    date_created: datetime
    date_updated: datetime
    date_sent: datetime | None = None
    status: str = "queued"
    error_code: int | None = None
    error_message: str | None = None
    media: list[MediaFetch] = field(default_factory=list)
    statuses: list[str] = field(default_factory=lambda: ["queued"])

    @property
    def uri(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"

    def to_json(self) -> dict[str, Any]:
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.date_created),
            "date_sent": rfc2822(self.date_sent),
            "date_updated": rfc2822(self.date_updated),
            "direction": "outbound-api",
            "error_code": self.error_code,
            "error_message": self.error_message,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": str(len(self.media_urls)),
            "num_segments": str(num_segments(self.to, self.body)),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": self.uri.removesuffix(".json") + "/Media.json"},
            "to": self.to,
            "uri": self.uri,
        }


@dataclass
class CallbackRecord:
    """A status callback the fake posted to the bot."""

    url: str
    params: dict[str, str]
    signature: str
    http_status: int
    error: str | None = None


@dataclass
class InboundResult:
    """What happened when the driver posted an inbound WhatsApp webhook to the bot."""

    message_sid: str
    url: str
    params: dict[str, str]
    signature: str | None
    http_status: int
    response_body: str
    error: str | None = None
