"""What a platform message carries besides text and a document, in the relay's words.

The plaintext guard (:mod:`bot.relay.guard`) never asks what a Telegram venue or a
Twilio ``MessageType`` is: the adapters answer with a :class:`Media` value here, the
one place that knows each platform's shapes. Unknown shapes are guarded, not ignored -
a new kind of content a platform adds tomorrow must not pass as "nothing".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from medcrypt.bot.domain.messages import Media

if TYPE_CHECKING:  # the WhatsApp side imports this module without loading PTB
    from telegram import Message

#: Twilio ``MessageType`` values that carry media the bot never fetches or relays (an
#: encrypted file travels as a document; WhatsApp may recompress images).
_WHATSAPP_MEDIA_TYPES = frozenset({"image", "audio", "video", "sticker", "contacts"})
_WHATSAPP_MEDIA_MAJOR = frozenset({"image", "audio", "video"})


def telegram_media(msg: Message) -> Media | None:
    """A Telegram message's content other than its text or document, if any.

    A venue carries a location; everything else PTB names an attachment (photo, voice,
    video, sticker, contact, poll, dice, story...) is OTHER, and so is a message with
    no text, caption or document whose fields PTB does not know (``api_kwargs``).
    """
    if msg.location is not None or msg.venue is not None:
        return Media.LOCATION
    if msg.document is not None:
        return None
    if msg.effective_attachment is not None:
        return Media.OTHER
    if msg.text is None and msg.caption is None and msg.api_kwargs:
        return Media.OTHER
    return None


def whatsapp_media(params: Mapping[str, str]) -> Media | None:
    """An inbound Twilio WhatsApp webhook's content other than ``Body`` or a document.

    A shared location comes as ``MessageType=location`` with ``Latitude``/``Longitude``;
    images, audio, video, stickers and contact cards are OTHER and are never fetched.
    """
    kind = params.get("MessageType", "")
    if kind == "location" or "Latitude" in params:
        return Media.LOCATION
    if kind in _WHATSAPP_MEDIA_TYPES:
        return Media.OTHER
    if params.get("NumMedia", "0") not in ("", "0"):
        major = params.get("MediaContentType0", "").split("/", 1)[0]
        if major in _WHATSAPP_MEDIA_MAJOR:
            return Media.OTHER
    return None
