"""Required fields extracted from the platform specs, so tests need no ../shared at run time.

Sources (read-only copies in /work/shared/specs/, see their README.md):
- Telegram: PaulSonOfLars/telegram-bot-api-spec ``api.json`` (Bot API 10.1, commit
  160fd99507e1c7c77e92dc90f5993d724735b51c, MIT): fields with ``"required": true``.
- Twilio: twilio/twilio-oai ``spec/json/twilio_api_v2010.json`` (commit
  d50069b44ea8cd23141385bdb6db48f16ff75bb5, MIT/Apache-2.0): the schema
  ``api.v2010.account.message`` lists no ``required``; every property appears in the
  spec's 201 examples, so all of them are required here. ``CreateMessageRequest``
  requires ``To``.
- Twilio webhooks are not in the OpenAPI file; the inbound and status-callback fields
  are those of Twilio's "Messaging webhooks" documentation for WhatsApp.
"""

from __future__ import annotations

TELEGRAM_REQUIRED: dict[str, frozenset[str]] = {
    "Update": frozenset({"update_id"}),
    "Message": frozenset({"message_id", "date", "chat"}),
    "Chat": frozenset({"id", "type"}),
    "User": frozenset({"id", "is_bot", "first_name"}),
    "Document": frozenset({"file_id", "file_unique_id"}),
    "PhotoSize": frozenset({"file_id", "file_unique_id", "width", "height"}),
    "Location": frozenset({"latitude", "longitude"}),
    "File": frozenset({"file_id", "file_unique_id"}),
    "WebhookInfo": frozenset({"url", "has_custom_certificate", "pending_update_count"}),
    "MessageEntity": frozenset({"type", "offset", "length"}),
    "CallbackQuery": frozenset({"id", "from", "chat_instance"}),
}

TWILIO_MESSAGE_PROPERTIES = frozenset({
    "body", "num_segments", "direction", "from", "to", "date_updated", "price",
    "error_message", "uri", "account_sid", "num_media", "status", "messaging_service_sid",
    "sid", "date_sent", "date_created", "error_code", "price_unit", "api_version",
    "subresource_uris"})

TWILIO_MESSAGE_STATUSES = frozenset({
    "queued", "sending", "sent", "failed", "delivered", "undelivered", "receiving",
    "received", "accepted", "scheduled", "read", "partially_delivered", "canceled"})

TWILIO_CREATE_REQUIRED = frozenset({"To"})

TWILIO_ERROR_FIELDS = frozenset({"code", "message", "more_info", "status"})

TWILIO_INBOUND_FIELDS = frozenset({
    "MessageSid", "SmsSid", "SmsMessageSid", "AccountSid", "From", "To", "Body",
    "NumMedia", "NumSegments", "ProfileName", "WaId", "SmsStatus", "ApiVersion",
    "MessageType"})

TWILIO_STATUS_CALLBACK_FIELDS = frozenset({
    "MessageSid", "SmsSid", "MessageStatus", "SmsStatus", "AccountSid", "From", "To",
    "ApiVersion"})
