"""Validation of a Messages API create request, with Twilio's error codes.

Kept apart from the HTTP layer so the rules read as a list: each refusal is the code a
real account returns for the same mistake, which lets the bot's error handling be
tested against realistic failures (a misconfigured sender, an over-long body, a bad
template SID) rather than generic 400s.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urlsplit

from medcrypt.sandbox.tw_models import (
    CONTENT_SID,
    E164,
    MAX_BODY_CHARS,
    MAX_MEDIA,
    TwilioApiError,
    TwilioMessage,
    new_sid,
)

_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


def bare(number: str) -> str:
    """Drivers accept ``+1555...`` and ``whatsapp:+1555...`` for the same person."""
    return number.removeprefix("whatsapp:")


def validate_create(form: Mapping[str, str], media_urls: list[str], *, account_sid: str,
                    whatsapp_from: str, templates: Mapping[str, str],
                    now: datetime) -> TwilioMessage:
    """The message a valid request creates, or the TwilioApiError Twilio would answer."""
    to = form.get("To", "")
    if not to:
        raise TwilioApiError(400, 21604, "A 'To' phone number is required.")
    from_, service = form.get("From") or None, form.get("MessagingServiceSid") or None
    if from_ is None and service is None:
        raise TwilioApiError(400, 21603, "A 'From' phone number is required.")
    if not E164.match(bare(to)):
        raise TwilioApiError(400, 21211, "Invalid 'To' Phone Number")
    if from_ is not None and from_.startswith("whatsapp:") != to.startswith("whatsapp:"):
        raise TwilioApiError(400, 21910, "Invalid From and To pair. From and To should be "
                                         "of the same channel")
    if from_ is not None and from_.startswith("whatsapp:") and from_ != whatsapp_from:
        raise TwilioApiError(400, 63007, "Twilio could not find a Channel with the "
                                         "specified From address")
    if service is not None and not _SERVICE_SID.match(service):
        raise TwilioApiError(400, 21701, "The Messaging Service Sid is invalid")
    content_sid = form.get("ContentSid") or None
    variables = form.get("ContentVariables") or None
    body = form.get("Body", "")
    if variables and not content_sid:
        raise TwilioApiError(400, 21654, "ContentSid Required")
    if content_sid is not None:
        if not CONTENT_SID.match(content_sid) or (templates and content_sid not in templates):
            raise TwilioApiError(400, 21655, "The ContentSid is Invalid")
        body = render(templates.get(content_sid, ""), variables)
    elif not body and not media_urls:
        raise TwilioApiError(400, 21619, "A text message body or media urls must be "
                                         "specified.")
    if len(body) > MAX_BODY_CHARS:
        raise TwilioApiError(400, 21617, "The concatenated message body exceeds the 1600 "
                                         "character limit.")
    if len(media_urls) > MAX_MEDIA:
        raise TwilioApiError(400, 21623, "Number of media files exceeds allowed limit")
    callback = form.get("StatusCallback") or None
    if callback is not None and not _valid_url(callback):
        raise TwilioApiError(400, 21609, "Invalid 'StatusCallback'")
    return TwilioMessage(
        sid=new_sid("SM"), account_sid=account_sid, to=to, from_=from_, body=body,
        media_urls=media_urls, status_callback=callback, content_sid=content_sid,
        content_variables=variables, messaging_service_sid=service,
        date_created=now, date_updated=now)


def render(template: str, variables: str | None) -> str:
    """Fill ``{{1}}``-style placeholders from the ContentVariables JSON object."""
    try:
        values = json.loads(variables) if variables else {}
    except (ValueError, RecursionError):
        raise TwilioApiError(400, 21656, "The ContentVariables Parameter is invalid") from None
    if not isinstance(values, dict):
        raise TwilioApiError(400, 21656, "The ContentVariables Parameter is invalid")
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), template)


def _valid_url(url: str) -> bool:
    parts = urlsplit(url)
    return (parts.scheme in ("http", "https") and bool(parts.hostname)
            and "_" not in (parts.hostname or "") and len(url) <= 4000)
