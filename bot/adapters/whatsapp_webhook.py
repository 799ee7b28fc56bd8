"""The ASGI app Twilio calls: inbound WhatsApp messages, status callbacks, media.

Every POST must carry a valid ``X-Twilio-Signature`` computed over the URL *the operator
configured* (``whatsapp.public_url`` + path) and the form parameters. The request's own
URL is never used: behind a TLS-terminating proxy it has another scheme, host or port,
and trusting it would let a forger choose what is signed. Unsigned or forged requests
get 403 and change nothing. A replay (a correctly signed request whose MessageSid was
already accepted) also gets 403 and changes nothing: the idempotency key is checked in
the same transaction that would have recorded it.

Media for outgoing attachments is served at ``/media/<random name>``: 256 random bits,
only its SHA-256 stored, expiring after ``media_url_ttl_seconds``; the encrypted file
inside a PDF, a type Twilio delivers to WhatsApp (ADR 0023).

Inbound media Twilio will not hand over (404 and the like) is answered 200 with a TwiML
reply asking the sender to resend, and nothing is recorded; a signed request that is
not WhatsApp (an SMS ``From``) gets empty TwiML and changes nothing.

Bodies reach these handlers already capped at ``whatsapp.max_body_bytes``: the
listener's edge (:mod:`bot.adapters.http_edge`) answers 413 to anything longer before
a signature is looked at.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import httpx
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from medcrypt.bot.adapters.shapes import whatsapp_media
from medcrypt.bot.domain import notices
from medcrypt.bot.domain.config import Settings
from medcrypt.bot.domain.i18n import translate
from medcrypt.bot.domain.messages import Document, Platform
from medcrypt.bot.domain.sender import FileLinks
from medcrypt.bot.domain.splitting import split_reply
from medcrypt.bot.outbox.pacing import ReplySlot
from medcrypt.bot.relay.intake import Intake
from medcrypt.crypto.clock import Clock
from medcrypt.crypto.keyless import pdf_wrap
from medcrypt.storage.db import SessionFactory
from medcrypt.storage.repos.media import media_for_url

log = structlog.get_logger("bot.whatsapp.webhook")

_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
#: What :meth:`WhatsAppWebhook._fetch_media` returns for media Twilio would not serve.
_UNAVAILABLE = Document(b"", "unavailable")
#: Most form fields accepted (Twilio sends about 20, a few more per media item).
MAX_FORM_FIELDS = 200


class WhatsAppWebhook:
    def __init__(
        self, settings: Settings, *, auth_token: str, account_sid: str, intake: Intake,
        sessions: SessionFactory, clock: Clock,
        on_accepted: Callable[[], None],
        on_status: Callable[[str, str, str | None], Awaitable[None]],
        on_refused: Callable[[str, str], Awaitable[None]] | None = None,
        reply_slot: ReplySlot | None = None,
    ) -> None:
        self._settings = settings
        #: Replicas sharing the pacing: each TwiML reply message takes a shared slot
        #: (Twilio sends it, and counts it against the sender's rate, like any other).
        self._reply_slot = reply_slot
        #: ``(platform, reason)`` of a request refused with 403, for the audit log.
        self._on_refused = on_refused
        self._validator = RequestValidator(auth_token)
        self._auth = (account_sid, auth_token)
        self._intake = intake
        self._sessions = sessions
        self._clock = clock
        self._on_accepted = on_accepted
        self._on_status = on_status
        wa = settings.whatsapp
        self._base = wa.public_url.rstrip("/")
        self.app = Starlette(routes=[
            Route(wa.inbound_path, self.inbound, methods=["POST"]),
            Route(wa.status_path, self.status, methods=["POST"]),
            Route(wa.media_path + "/{name}", self.media, methods=["GET"]),
        ])

    def media_url(self, name: str) -> str:
        return f"{self._base}{self._settings.whatsapp.media_path}/{name}"

    @property
    def file_links(self) -> FileLinks:
        """Twilio fetches a WhatsApp attachment from a URL: the ones :meth:`media` serves."""
        return FileLinks(ttl=timedelta(seconds=self._settings.whatsapp.media_url_ttl_seconds),
                         url=self.media_url)

    async def _verified_form(self, request: Request, path: str) -> dict[str, str] | None:
        body = await request.body()  # capped at the edge, before this runs
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature:
            return None
        params = parse_form(body, request.headers.get("content-type", ""))
        if params is None:
            return None
        if not self._validator.validate(self._base + path, params, signature):
            return None
        return params

    async def inbound(self, request: Request) -> Response:
        params = await self._verified_form(request, self._settings.whatsapp.inbound_path)
        if params is None:
            return await self._refuse("signature")
        sid = params.get("MessageSid") or params.get("SmsMessageSid") or ""
        sender = params.get("From", "")
        if not sid:
            return Response(status_code=400)
        if not sender.startswith("whatsapp:"):
            # Signed by Twilio but not WhatsApp: an SMS (or voice-number) webhook pointed
            # at this URL. Twilio logs any 4xx as error 11200 and may retry; this is not
            # an error of the request, just a channel the relay does not serve. Empty
            # TwiML: no reply (an SMS reply would cost the clinic and leak that a relay
            # answers here), nothing stored.
            log.info("twilio_webhook_ignored", reason="not_whatsapp")
            return Response(_EMPTY_TWIML, media_type="application/xml")
        media = whatsapp_media(params)  # photos, locations...: never fetched
        document = None if media is not None else await self._fetch_media(params)
        if isinstance(document, Response):
            return document
        if document is _UNAVAILABLE:
            # Twilio does not retry a failed webhook by default, so a 5xx here loses the
            # message without a word. The sender is told instead, in the answer itself;
            # nothing is recorded - not even the MessageSid - so a resend, or a retry
            # Twilio makes after all, is handled afresh.
            log.info("inbound_media_unavailable")
            text = translate(self._intake.language_for(Platform.WHATSAPP, sender),
                             notices.MEDIA_UNAVAILABLE)
            return Response(_twiml(await self._paced([text])), media_type="application/xml")
        outcome = self._intake.accept(
            platform=Platform.WHATSAPP, address=sender, dedupe_key=sid,
            # With media, Body is its caption: read like text (tokens relayed, words guarded).
            text=params.get("Body", ""), document=document, media=media,
            platform_message_id=sid,
        )
        if outcome.duplicate:
            return await self._refuse("replay")
        self._on_accepted()
        # Replies to a stranger (nothing stored) go back as TwiML in the response.
        limit = self._settings.whatsapp.max_message_chars
        replies = [piece for reply in outcome.direct_replies
                   for piece in split_reply(reply, limit)]
        return Response(_twiml(await self._paced(replies)), media_type="application/xml")

    async def _paced(self, replies: list[str]) -> list[str]:
        """The reply messages that got a shared pacing slot, each answered once its
        slot came (all of them when this process paces alone: Twilio queues a reply
        beyond the sender's rate, and one process's replies are few)."""
        if self._reply_slot is None:
            return replies
        for n in range(len(replies)):
            if not await self._reply_slot(Platform.WHATSAPP):
                log.info("direct_reply_paced_out", platform="whatsapp",
                         pieces=len(replies) - n)
                return replies[:n]
        return replies

    async def _refuse(self, reason: str) -> Response:
        log.warning("twilio_webhook_refused", reason=reason)
        if self._on_refused is not None:
            await self._on_refused("whatsapp", reason)
        return Response(status_code=403)

    async def _fetch_media(self, params: dict[str, str]) -> Document | Response | None:
        """The attachment's bytes (cut short past the limit), or :data:`_UNAVAILABLE`
        when Twilio would not hand them over (gone, refused, unreachable, too slow)."""
        if params.get("NumMedia", "0") in ("", "0"):
            return None
        url = params.get("MediaUrl0", "")
        if not url.startswith(("http://", "https://")):
            return Response(status_code=400)
        limit = min(self._settings.relay.max_file_bytes,
                    self._settings.whatsapp.max_media_bytes)
        timeout = self._settings.whatsapp.request_timeout_seconds
        try:
            async with httpx.AsyncClient(auth=self._auth, timeout=timeout,
                                         follow_redirects=True) as client, \
                    client.stream("GET", url) as resp:
                if resp.status_code != 200:
                    log.info("media_fetch_failed", status=resp.status_code)
                    return _UNAVAILABLE
                declared = int(resp.headers.get("content-length", "0") or 0)
                if declared > limit:
                    return Document(b"", "attachment", declared_size=declared)
                data = bytearray()
                async for chunk in resp.aiter_bytes():
                    data += chunk
                    if len(data) > limit:
                        return Document(b"", "attachment", declared_size=len(data))
        except httpx.HTTPError as exc:
            log.info("media_fetch_failed", error=type(exc).__name__)
            return _UNAVAILABLE
        return Document(bytes(data), "attachment.mcf")

    async def status(self, request: Request) -> Response:
        params = await self._verified_form(request, self._settings.whatsapp.status_path)
        if params is None:
            return await self._refuse("signature")
        sid = params.get("MessageSid", "")
        status = params.get("MessageStatus", "")
        if sid and status:
            # 204 only once the receipt is committed: Twilio does not resend a receipt
            # it saw acknowledged.
            await self._on_status(sid, status, params.get("ErrorCode") or None)
        return Response(status_code=204)

    async def media(self, request: Request) -> Response:
        name = request.path_params["name"]
        now: datetime = self._clock.now()
        with self._sessions() as s:
            data = media_for_url(s, name, now=now)
        if data is None:
            return Response(status_code=404)
        # Twilio delivers WhatsApp media only of the types it documents, and checks the
        # bytes against the Content-Type: the container travels inside a PDF
        # (crypto/keyless/pdf_wrap.py, ADR 0023). The name is the one users see.
        return Response(pdf_wrap.wrap(data), media_type=pdf_wrap.CONTENT_TYPE,
                        headers={"Cache-Control": "no-store",
                                 "Content-Disposition":
                                     f'attachment; filename="{pdf_wrap.FILE_NAME}"'})


def parse_form(body: bytes, content_type: str) -> dict[str, str] | None:
    """Twilio's urlencoded form, or None when it is not one (refused as unsigned)."""
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return None
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                          strict_parsing=False, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        return None
    params = dict(pairs)
    if len(params) != len(pairs):
        return None  # repeated keys: Twilio never sends them; refuse ambiguity
    return params


def _twiml(replies: list[str]) -> str:
    if not replies:
        return _EMPTY_TWIML
    body = "".join(f"<Message>{escape(r)}</Message>" for r in replies)
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>'
