"""A loopback fake of Twilio's Messages API (WhatsApp) that the real twilio client talks to.

REST: ``POST/GET /2010-04-01/Accounts/{AccountSid}/Messages[/{Sid}].json`` with HTTP
Basic auth, Twilio's validation errors (21604, 21603, 21619, 21617, 21655, 21609), the
WhatsApp 24-hour window (63016; ``window_error="sync"`` raises it from ``create`` as the
bot's tests expect, ``"callback"`` accepts the message and fails it in the status
callback as production Twilio does), injected 429s (20429) and faults. After a send the
fake downloads the MediaUrl like WhatsApp would, then posts signed status callbacks
(sent → delivered, or failed/undelivered with ErrorCode). The inbound half of the
driver lives in :mod:`sandbox.tw_driver`.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from aiohttp import web

from medcrypt.crypto.clock import Clock
from medcrypt.sandbox._server import drop_connection
from medcrypt.sandbox.faults import FaultKind, Faults, Injected429s
from medcrypt.sandbox.tg_models import SystemClock
from medcrypt.sandbox.tw_driver import TwilioDriver
from medcrypt.sandbox.tw_inbound import WEBHOOK_HEADERS, sign, status_params
from medcrypt.sandbox.tw_list import message_page
from medcrypt.sandbox.tw_models import (
    API_VERSION,
    MediaFetch,
    TwilioApiError,
    TwilioMessage,
    auth_error,
    new_sid,
    whatsapp_media_error,
    window_error,
)
from medcrypt.sandbox.tw_validate import bare, validate_create

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class FakeTwilio(TwilioDriver):
    """Fake Twilio account with one WhatsApp sender. Start with ``with`` or ``async with``."""

    def __init__(self, account_sid: str | None = None, auth_token: str | None = None, *,
                 whatsapp_from: str = "whatsapp:+14155238886",
                 webhook_url: str | None = None, signature_url: str | None = None,
                 clock: Clock | None = None, faults: Faults | None = None,
                 window: timedelta = timedelta(hours=24),
                 window_error: Literal["sync", "callback"] = "sync",
                 templates: Mapping[str, str] | None = None,
                 callback_delay: float = 0.0, read_receipts: bool = False,
                 media_requires_auth: bool = False, media_timeout: float = 10.0) -> None:
        super().__init__(faults)
        self.account_sid = account_sid or new_sid("AC")
        self.auth_token = auth_token or new_sid("")
        self.whatsapp_from = whatsapp_from
        #: Where inbound webhooks are POSTed, and the URL they are signed for (the bot's
        #: configured public URL; defaults to webhook_url).
        self.webhook_url = webhook_url
        self.signature_url = signature_url
        self.clock: Clock = clock or SystemClock()
        self.window = window
        self.window_error = window_error
        self.templates = dict(templates or {})
        self.callback_delay = callback_delay
        self.read_receipts = read_receipts
        #: False: an accepted message stays "queued" - no delivery steps, no status
        #: callbacks. For a benchmark of sends alone: each callback costs this one
        #: thread more than the send itself, and it would measure the fake, not the bot.
        self.deliver = True
        self.media_requires_auth = media_requires_auth
        self.media_timeout = media_timeout
        self.messages: dict[str, TwilioMessage] = {}
        self.last_inbound_at: dict[str, datetime] = {}
        self.undeliverable: dict[str, int] = {}
        self._injected = Injected429s()
        self._session: aiohttp.ClientSession | None = None

    @property
    def api_base_url(self) -> str:
        """Assign to ``client.api.base_url`` (see the package docstring)."""
        return self.url

    # -- lifecycle --------------------------------------------------------------------
    def build_routes(self, app: web.Application) -> None:
        base = f"/{API_VERSION}/Accounts/{{account}}"
        app.router.add_post(base + "/Messages.json", self._create)
        app.router.add_get(base + "/Messages.json", self._list)
        app.router.add_get(base + "/Messages/{sid:[A-Za-z0-9]+}.json", self._fetch)
        app.router.add_get(base + "/Messages/{sid}/Media/{media}", self._media)
        app.router.add_get(base + ".json", self._account)

    async def on_start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.media_timeout))

    async def on_stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("the sandbox server is not running")
        return self._session

    # -- REST -------------------------------------------------------------------------
    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        try:
            creds = aiohttp.BasicAuth.decode(header)
        except ValueError:
            return False
        return (hmac.compare_digest(creds.login.encode(), self.account_sid.encode())
                and hmac.compare_digest(creds.password.encode(), self.auth_token.encode())
                and hmac.compare_digest(request.match_info["account"].encode(),
                                        self.account_sid.encode()))

    async def _guarded(self, request: web.Request, api_method: str,
                       work: Callable[[bytes], Any]) -> web.StreamResponse:
        authorised = self._authorised(request)
        fault = self.fault_plan.decide(api_method) if authorised else FaultKind.NONE
        body = await self.record(request, api_method, fault)
        if not authorised:
            return _error(auth_error(), {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        early = await self.apply_fault(request, fault, lambda: self._fault_reply(fault))
        if early is not None:
            return early
        try:
            status, payload = work(body)
        except TwilioApiError as exc:
            return _error(exc)
        if fault is FaultKind.LOST_RESPONSE:
            return drop_connection(request)
        return web.json_response(payload, status=status)

    async def _fault_reply(self, fault: FaultKind) -> web.Response:
        if fault is FaultKind.RATE_LIMIT:
            return _error(TwilioApiError(429, 20429, "Too Many Requests"))
        status = self.fault_plan.error_status()
        if status == 502:
            return web.Response(status=502, content_type="text/html",
                                text="<html><body><h1>502 Bad Gateway</h1></body></html>")
        return _error(TwilioApiError(500, 20500, "Internal Server Error"))

    async def _create(self, request: web.Request) -> web.StreamResponse:
        await self.arrived_send()
        return await self._guarded(request, "Messages.create", self._create_message)

    async def _account(self, request: web.Request) -> web.StreamResponse:
        """``GET /Accounts/{sid}.json``: the account itself (what ``doctor --live`` asks)."""

        def fetch(_body: bytes) -> tuple[int, Any]:
            return 200, {"sid": self.account_sid, "status": "active", "type": "Full",
                         "friendly_name": "MedCrypt sandbox", "owner_account_sid":
                         self.account_sid, "uri": f"/{API_VERSION}/Accounts/"
                         f"{self.account_sid}.json"}

        return await self._guarded(request, "Accounts.fetch", fetch)

    async def _fetch(self, request: web.Request) -> web.StreamResponse:
        sid = request.match_info["sid"]

        def fetch(_body: bytes) -> tuple[int, Any]:
            with self._lock:
                msg = self.messages.get(sid)
                if msg is None:
                    raise TwilioApiError(404, 20404, f"The requested resource {request.path} "
                                                     "was not found")
                return 200, msg.to_json()

        return await self._guarded(request, "Messages.fetch", fetch)

    async def _list(self, request: web.Request) -> web.StreamResponse:
        """``GET Messages.json``: the bot asks it whether an in-doubt send arrived."""
        query = dict(request.query)

        def listing(_body: bytes) -> tuple[int, Any]:
            with self._lock:
                return 200, message_page(list(self.messages.values()), query,
                                         account_sid=self.account_sid)

        return await self._guarded(request, "Messages.list", listing)

    def _create_message(self, body: bytes) -> tuple[int, Any]:
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            raise TwilioApiError(400, 20001, "Invalid request body") from None
        form = dict(pairs)
        to = form.get("To", "")
        if to and (self._injected.take(bare(to)) is not None
                   or self._injected.take("*") is not None):
            raise TwilioApiError(429, 20429, "Too Many Requests")
        msg = validate_create(form, [v for k, v in pairs if k == "MediaUrl"],
                              account_sid=self.account_sid, whatsapp_from=self.whatsapp_from,
                              templates=self.templates, now=self.clock.now())
        closed = self._window_closed(msg)
        if closed and self.window_error == "sync":
            raise window_error()
        with self._lock:
            self.messages[msg.sid] = msg
        self.signal.notify()
        if self.deliver:
            self.spawn(self._deliver(msg, closed))
        return 201, msg.to_json()

    def _window_closed(self, msg: TwilioMessage) -> bool:
        if not msg.to.startswith("whatsapp:") or msg.content_sid is not None:
            return False
        with self._lock:
            last = self.last_inbound_at.get(msg.to)
        return last is None or self.clock.now() - last >= self.window

    # -- delivery -----------------------------------------------------------------------
    async def _deliver(self, msg: TwilioMessage, window_closed: bool) -> None:
        if self.callback_delay:
            await asyncio.sleep(self.callback_delay)
        steps: list[tuple[str, int | None]]
        if window_closed:
            steps = [("failed", 63016)]
        elif (media_error := await self._fetch_media(msg)) is not None:
            steps = [("failed", media_error)]
        elif bare(msg.to) in self.undeliverable:
            steps = [("sent", None), ("undelivered", self.undeliverable[bare(msg.to)])]
        else:
            steps = [("sent", None), ("delivered", None)]
            if self.read_receipts:
                steps.append(("read", None))
        for status, code in steps:
            now = self.clock.now()
            with self._lock:
                msg.status, msg.date_updated = status, now
                msg.statuses.append(status)
                if status == "sent":
                    msg.date_sent = now
                if code is not None:
                    msg.error_code = code
                    msg.error_message = _ERROR_TEXT.get(code, "Message delivery failed")
            self.signal.notify()
            if msg.status_callback:
                await self.post_signed(msg.status_callback, status_params(msg, status, code),
                                       kind="callback")

    async def _fetch_media(self, msg: TwilioMessage) -> int | None:
        """Download attachments; the error code that fails the message, or None.

        WhatsApp delivers only the first MediaUrl of a message: the others are recorded
        with an error so a test sees they never arrived (the message itself still
        succeeds, as on the real platform). A download that fails is 11200; WhatsApp
        media of a type Twilio does not document for it, or whose bytes do not match
        its Content-Type, is 12300, and media over WhatsApp's size limit 11751.
        """
        whatsapp = msg.to.startswith("whatsapp:")
        error: int | None = None
        for i, url in enumerate(msg.media_urls):
            fetch = MediaFetch(url, 0, None, b"")
            if whatsapp and i > 0:
                fetch.error = "not delivered: WhatsApp sends one attachment per message"
            elif urlsplit(url).hostname not in LOOPBACK_HOSTS:
                fetch.error = "refused: the sandbox only fetches loopback URLs"
                error = error or 11200
            else:
                await self._download(fetch)
                if fetch.error is not None:
                    error = error or 11200
                elif whatsapp and (refused := whatsapp_media_error(fetch.content_type,
                                                                   fetch.data)):
                    fetch.error = f"refused by WhatsApp rules ({refused})"
                    error = error or refused
            with self._lock:
                msg.media.append(fetch)
        return error

    async def _download(self, fetch: MediaFetch) -> None:
        try:
            async with self.session.get(fetch.url, allow_redirects=True) as resp:
                fetch.status = resp.status
                fetch.content_type = resp.headers.get("Content-Type")
                fetch.data = await resp.read()
                if resp.status != 200:
                    fetch.error = f"HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            fetch.error = type(exc).__name__

    async def post_signed(self, url: str, params: dict[str, str], *, kind: str,
                          signature: str | None = None, sign_for: str | None = None
                          ) -> tuple[int, str, str, str | None]:
        """POST form params to the bot, signed like Twilio; returns (status, body, sig, err)."""
        sig = signature if signature is not None else sign(self.auth_token, sign_for or url,
                                                            params)
        headers = dict(WEBHOOK_HEADERS)
        if sig:
            headers["X-Twilio-Signature"] = sig
        headers["I-Twilio-Idempotency-Token"] = new_sid("")
        status, text, error = 0, "", None
        if urlsplit(url).hostname not in LOOPBACK_HOSTS:
            error = "refused: the sandbox only posts to loopback URLs"
        else:
            try:
                async with self.session.post(url, data=params, headers=headers) as resp:
                    status, text = resp.status, await resp.text()
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                error = type(exc).__name__
        self.record_post(kind, url, params, sig=sig, status=status, text=text, error=error)
        return status, text, sig, error

    # -- media the driver serves for inbound messages ------------------------------------
    async def _media(self, request: web.Request) -> web.StreamResponse:
        await self.record(request, "Media.fetch")
        if self.media_requires_auth and not self._authorised(request):
            return _error(auth_error())
        with self._lock:
            found = self.inbound_media.get(request.path)
        if found is None:
            return _error(TwilioApiError(404, 20404, "The requested resource was not found"))
        data, content_type = found
        return web.Response(body=data, content_type=content_type)

    # -- driver: outbound side ------------------------------------------------------------
    def inject_429(self, to: str | None = None, times: int = 1) -> None:
        """The next ``times`` creates (to ``to``, or to anyone) answer 429 / 20429."""
        self._injected.add(bare(to) if to else "*", 0, times)

    def set_undeliverable(self, to: str, error_code: int = 63024) -> None:
        """Messages to this number (``+1...`` or ``whatsapp:+1...``) end "undelivered"
        with ``error_code`` after "sent"."""
        self.undeliverable[bare(to)] = error_code

    def messages_to(self, number: str) -> list[TwilioMessage]:
        """Messages the bot created for ``number`` (``+1...`` or ``whatsapp:+1...``)."""
        wanted = bare(number)
        with self._lock:
            return [m for m in self.messages.values() if bare(m.to) == wanted]


_ERROR_TEXT = {
    63016: "Failed to send freeform message because you are outside the allowed window.",
    11200: "HTTP retrieval failure",
    11751: "Media exceeds messaging provider size limit",
    12300: "Invalid Content-Type",
    63024: "Invalid message recipient",
}


def _error(exc: TwilioApiError, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(exc.body(), status=exc.status, headers=headers)
