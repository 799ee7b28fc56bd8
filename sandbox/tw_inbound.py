"""Inbound WhatsApp webhooks and status callbacks exactly as Twilio forms and signs them.

Twilio signs a webhook with HMAC-SHA1 over the URL it requested followed by the sorted
POST parameters (name + value), keyed by the account's auth token, and sends the result
in ``X-Twilio-Signature``. Using twilio's own ``RequestValidator.compute_signature`` here
means a bot that validates with ``RequestValidator.validate`` against its configured
public URL sees exactly what production would send.
"""

from __future__ import annotations

from collections.abc import Sequence

from twilio.request_validator import RequestValidator

from medcrypt.sandbox.tw_models import API_VERSION, TwilioMessage

#: Headers Twilio sends with every webhook request (besides the signature).
WEBHOOK_HEADERS = {"User-Agent": "TwilioProxy/1.1",
                   "Content-Type": "application/x-www-form-urlencoded"}


def sign(auth_token: str, url: str, params: dict[str, str]) -> str:
    return str(RequestValidator(auth_token).compute_signature(url, params))


def message_type(content_types: Sequence[str]) -> str:
    """WhatsApp's MessageType field: text, image, audio, video or document."""
    if not content_types:
        return "text"
    major = content_types[0].split("/", 1)[0]
    return major if major in ("image", "audio", "video") else "document"


def inbound_params(*, account_sid: str, message_sid: str, from_addr: str, to_addr: str,
                   body: str, profile_name: str, media: Sequence[tuple[str, str]],
                   location: tuple[float, float] | None = None) -> dict[str, str]:
    """Form fields of an incoming WhatsApp message webhook (media: (url, content type)).

    A shared location arrives with ``MessageType=location`` and its coordinates in
    ``Latitude`` / ``Longitude``, no media and an empty ``Body``.
    """
    params = {
        "SmsMessageSid": message_sid,
        "NumMedia": str(len(media)),
        "ProfileName": profile_name,
        "MessageType": "location" if location else message_type([ct for _, ct in media]),
        "SmsSid": message_sid,
        "WaId": from_addr.removeprefix("whatsapp:+"),
        "SmsStatus": "received",
        "Body": body,
        "To": to_addr,
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": message_sid,
        "AccountSid": account_sid,
        "From": from_addr,
        "ApiVersion": API_VERSION,
    }
    if location is not None:
        params["Latitude"], params["Longitude"] = (str(v) for v in location)
    for i, (url, content_type) in enumerate(media):
        params[f"MediaContentType{i}"] = content_type
        params[f"MediaUrl{i}"] = url
    return params


def status_params(msg: TwilioMessage, status: str, error_code: int | None) -> dict[str, str]:
    """Form fields of a message status callback."""
    params = {
        "SmsSid": msg.sid,
        "SmsStatus": status,
        "MessageStatus": status,
        "To": msg.to,
        "MessageSid": msg.sid,
        "AccountSid": msg.account_sid,
        "From": msg.from_ or "",
        "ApiVersion": API_VERSION,
    }
    if msg.to.startswith("whatsapp:"):
        params["ChannelPrefix"] = "whatsapp"
        params["ChannelToAddress"] = msg.to.removeprefix("whatsapp:")
    if error_code is not None:
        params["ErrorCode"] = str(error_code)
    return params
