"""Loopback fakes of the Telegram Bot API and Twilio's Messages API, with test drivers.

Used by the demo, the tests and the benchmarks so the real python-telegram-bot and
twilio clients run end to end without touching the network. Both fakes bind only to
127.0.0.1 on an ephemeral port and record every request verbatim (``requests``,
``request_bytes()``) so a test can prove nothing but tokens left the bot.

Starting
--------
Async (tasks in the caller's loop)::

    async with FakeTelegram() as tg, FakeTwilio(webhook_url=...) as tw: ...

Threaded (own loop in a daemon thread; needed for the blocking twilio ``Client`` and
for the synchronous driver calls ``wait_for_messages``/``user_sends_whatsapp``)::

    with FakeTelegram() as tg, FakeTwilio() as tw: ...

In async mode use the ``*_async`` driver variants (``wait_for_messages_async``,
``user_sends_whatsapp_async``, ``replay_async``, ``wait_until_async``).

In a child process (:class:`sandbox.remote.RemoteSandbox`), as remote services
are in real life - benchmarks use this so the platforms' work is not charged to the
bot's event loop; JSON driver operations (:class:`sandbox.ops.SandboxOps`) cross a
pipe::

    async with RemoteSandbox(webhook_url=...) as sb:
        sb.info["tg_base_url"]; await sb.call("user_sends_texts", [[user_id, text]])

Pointing python-telegram-bot 22 at the fake
-------------------------------------------
::

    app = (Application.builder().token(tg.token)
           .base_url(tg.base_url)            # f"{tg.url}/bot"
           .base_file_url(tg.base_file_url)  # f"{tg.url}/file/bot"
           .build())
    # or Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url)

Methods: getMe, getUpdates (offset, limit, timeout long poll, allowed_updates; 409 when
a newer poll starts or a webhook is set), sendMessage (4096 UTF-16 units), sendDocument
(multipart upload, file_id resend, attach://), getFile and file download,
deleteMessage, setWebhook (url, secret_token, allowed_updates, drop_pending_updates) /
deleteWebhook / getWebhookInfo, answerCallbackQuery, set/get/deleteMyCommands,
sendChatAction. With a webhook set the fake POSTs each update (in order, retried on
non-2xx) with ``X-Telegram-Bot-Api-Secret-Token``.

Telegram driver: ``user_sends_text(user_id, text) -> message_id``,
``user_sends_document(user_id, filename, data, mime_type=None, caption=None)``,
``user_presses_button(user_id, message_id, data)``, ``block_user(user_id)``,
``inject_raw_update(payload, kind="message")`` (an update queued verbatim, unchecked),
``messages_to(chat_id) -> list[SentMessage]`` (``.text`` or ``.document`` bytes,
``.deleted``), ``user_message(chat_id, message_id)`` (``.deleted`` after the bot deleted
it), ``wait_for_messages(chat_id, n, timeout)``, ``inject_429(chat_id, retry_after,
times=1)``, ``rate_limits = RateLimits(...)`` (per-chat and global 429s), ``faults =
Faults(...)``, ``webhook`` (url, secret_token, deliveries), ``pending_updates()``.

Pointing twilio 9.13 at the fake
--------------------------------
``twilio.rest.api.ApiBase`` is a ``Domain`` whose ``base_url`` defaults to
"https://api.twilio.com"; assigning it redirects every Messages call (leave
``region``/``edge`` and ``TWILIO_EDGE``/``TWILIO_REGION`` unset, or the client rewrites
the host)::

    client = Client(tw.account_sid, tw.auth_token)         # blocking (requests)
    client.api.base_url = tw.api_base_url                  # == tw.url
    client.messages.create(to="whatsapp:+1555...", from_=tw.whatsapp_from, body="...")

    http = AsyncTwilioHttpClient()                         # twilio.http.async_http_client
    client = Client(tw.account_sid, tw.auth_token, http_client=http)
    client.api.base_url = tw.api_base_url
    await client.messages.create_async(...); await http.close()

The blocking client must not be used from the loop the fake runs in (use the threaded
fake). The fake enforces Basic auth (20003), 21604/21603/21619/21617/21211/21910/
21654/21655/21656/21609, the 24-hour window (63016: ``window_error="sync"`` raises from
``create``; ``"callback"`` accepts with 201 and fails in the status callback as real
Twilio does - the bot should handle both), templates by ContentSid (``templates=
{"HX...": "text {{1}}"}``), 429/20429 via ``inject_429(to=None, times=1)``.
After a create it downloads the first MediaUrl (WhatsApp sends one attachment per
message: later URLs are recorded as not delivered; a failed download -> "failed",
ErrorCode 11200; only loopback URLs are fetched), then POSTs status callbacks "sent",
"delivered" (or "undelivered" with ``set_undeliverable(number, code)``) signed with
``X-Twilio-Signature`` over the exact StatusCallback URL. Status changes before its
callback is posted, so wait for ``callbacks`` when asserting on them.

Twilio driver: ``webhook_url`` (where the bot listens) and ``signature_url`` (the
public URL the bot validates against, if a proxy sits in front),
``user_sends_whatsapp(from_number, body, media=[(bytes, content_type)], profile_name=,
message_sid=, signature="valid"|"forged"|"missing", sign_url=) -> InboundResult``,
``replay(result)``, ``messages_to(number) -> list[TwilioMessage]`` (``.status``,
``.statuses``, ``.media[i].data``), ``messages[sid]``, ``callbacks``, ``inbound``,
``last_inbound_at["whatsapp:+1..."]`` (set by validly signed inbound posts only),
``open_window(number, at=None)``, ``close_window(number)``,
``wait_until(predicate, timeout)``; ``clock=`` injects time (crypto.clock.FixedClock).

Faults
------
``Faults(error_rate, timeout_rate, drop_rate, rate_limit_rate, lost_response_rate,
hang_seconds=30, retry_after=1, seed=0, methods=None)``: seeded, per API request,
applied before the request has any effect (so exactly-once delivery stays possible),
except ``lost_response_rate`` which acts and then drops the connection.
``fault_plan.counts`` says how many of each were injected. ``methods`` limits faults to
API methods by name ("sendMessage", "getUpdates", "file", "Messages.create",
"Messages.fetch").
"""

from medcrypt.sandbox.fake_telegram import FakeTelegram
from medcrypt.sandbox.fake_twilio import FakeTwilio
from medcrypt.sandbox.faults import FaultKind, Faults, RateLimits
from medcrypt.sandbox.tg_models import SentMessage, UserMessage
from medcrypt.sandbox.tw_models import CallbackRecord, InboundResult, MediaFetch, TwilioMessage

__all__ = ["CallbackRecord", "FakeTelegram", "FakeTwilio", "FaultKind", "Faults",
           "InboundResult", "MediaFetch", "RateLimits", "SentMessage", "TwilioMessage",
           "UserMessage"]
