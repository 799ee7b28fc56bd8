"""A loopback fake of the Telegram Bot API that the real python-telegram-bot talks to.

Serves ``/bot<TOKEN>/<method>`` and ``/file/bot<TOKEN>/<file_path>`` like
api.telegram.org, so ``Application.builder().token(T).base_url(f"{url}/bot")
.base_file_url(f"{url}/file/bot")`` works unchanged. Tests drive the simulated users
with plain Python calls (``user_sends_text``) and read what the bot sent
(``messages_to``); every HTTP request is kept verbatim in ``requests`` so a test can
prove that nothing but tokens left the bot. Faults, per-chat 429s and the platform's
rate limits are switchable at run time.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from medcrypt.crypto.clock import Clock
from medcrypt.crypto.errors import MalformedToken
from medcrypt.sandbox._server import drop_connection
from medcrypt.sandbox.faults import FaultKind, Faults, Injected429s, RateLimiter, RateLimits
from medcrypt.sandbox.params import get_chat_id, get_int, parse_params
from medcrypt.sandbox.tg_driver import TelegramDriver
from medcrypt.sandbox.tg_models import (
    ApiError,
    SystemClock,
    from_malformed,
    too_many_requests,
)
from medcrypt.sandbox.tg_state import TelegramState

#: Methods that post into a chat: the ones Telegram rate-limits per chat.
SEND_METHODS = frozenset({"sendmessage", "senddocument"})
MAX_POLL_TIMEOUT = 50
#: The request header a client may tag its getUpdates calls with (``epoch=N;
#: caller=X``): recorded, never required. The MedCrypt bot sends it when several
#: replicas share the poll; any other client's polls are recorded with empty fields.
POLL_TAG_HEADER = "X-Medcrypt-Poll"
#: How often a waiting long poll checks whether its client hung up.
HANGUP_CHECK_S = 0.05


@dataclass(frozen=True, slots=True)
class PollRecord:
    """One getUpdates call as the server saw it (monotonic seconds)."""

    start: float
    end: float
    caller: str
    epoch: int | None
    #: 200, 409 (superseded by another poll), or 499 (the client closed the connection).
    status: int
    updates: int


class FakeTelegram(TelegramDriver):
    """Fake Bot API for one bot token. Start with ``with`` (thread) or ``async with``."""

    def __init__(self, token: str | None = None, *, bot_username: str = "medcrypt_sandbox_bot",
                 bot_first_name: str = "MedCrypt Sandbox", clock: Clock | None = None,
                 faults: Faults | None = None, rate_limits: RateLimits | None = None,
                 webhook_require_https: bool = False, webhook_retry_delay: float = 0.05,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(faults)
        self.token = token or f"7000000001:AA{secrets.token_urlsafe(25)[:33]}"
        bot_id = int(self.token.split(":", 1)[0]) if self.token.split(":", 1)[0].isdigit() \
            else 7000000001
        self.state = TelegramState(bot_id, bot_first_name, bot_username,
                                   clock or SystemClock())
        self.webhook_require_https = webhook_require_https
        self.webhook_retry_delay = webhook_retry_delay
        self._monotonic = monotonic
        self._limiter: RateLimiter | None = None
        self.rate_limits = rate_limits
        self._injected = Injected429s()
        self._pushing = False
        #: Every getUpdates call, in the order they ended (tests check that no two overlap).
        self.polls: list[PollRecord] = []
        self._polls_lock = threading.Lock()
        self._methods: dict[str, Callable[[Mapping[str, Any]], Any]] = {
            "getme": self.state.get_me,
            "sendmessage": self.state.send_message,
            "senddocument": self.state.send_document,
            "getfile": self.state.get_file,
            "deletemessage": self.state.delete_message,
            "setwebhook": lambda prm: self.state.set_webhook(prm, self.webhook_require_https),
            "deletewebhook": self.state.delete_webhook,
            "getwebhookinfo": self.state.get_webhook_info,
            "answercallbackquery": self.state.answer_callback_query,
            "setmycommands": self.state.set_my_commands,
            "getmycommands": self.state.get_my_commands,
            "deletemycommands": self.state.delete_my_commands,
            "sendchataction": self.state.send_chat_action,
        }

    # -- configuration ----------------------------------------------------------------
    @property
    def rate_limits(self) -> RateLimits | None:
        return self._limiter.limits if self._limiter else None

    @rate_limits.setter
    def rate_limits(self, value: RateLimits | None) -> None:
        self._limiter = RateLimiter(value, self._monotonic) if value else None

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)``."""
        return f"{self.url}/file/bot"

    # -- HTTP -------------------------------------------------------------------------
    def build_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)

    def _ensure_pusher(self) -> None:
        """Run the webhook pusher only while a webhook is set (polling pays nothing)."""
        if self.state.webhook.url and not self._pushing:
            self._pushing = True
            self.spawn(self._webhook_loop())

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if method.lower() in SEND_METHODS:
            await self.arrived_send()
        authorised = hmac.compare_digest(request.match_info["token"].encode(),
                                         self.token.encode())
        fault = self.fault_plan.decide(method) if authorised else FaultKind.NONE
        body = await self.record(request, method, fault)
        if not authorised:
            return _error(ApiError(401, "Unauthorized"))
        early = await self.apply_fault(request, fault, lambda: self._fault_reply(fault))
        if early is not None:
            return early
        try:
            params = parse_params(request.headers.get("Content-Type", ""), body,
                                  request.query_string)
            if method.lower() == "getupdates":
                result = await self._recorded_poll(request, params)
            else:
                result = await self._dispatch(method.lower(), params)
        except MalformedToken as exc:
            return _error(from_malformed(exc))
        except ApiError as exc:
            return _error(exc)
        except _HungUp:
            return web.Response(status=499)  # nobody reads it: the client is gone
        if fault is FaultKind.LOST_RESPONSE:
            return drop_connection(request)
        return web.json_response({"ok": True, "result": result})

    async def _fault_reply(self, fault: FaultKind) -> web.Response:
        if fault is FaultKind.RATE_LIMIT:
            return _error(too_many_requests(self.faults.retry_after))
        status = self.fault_plan.error_status()
        if status == 502:  # nginx in front of the Bot API answers 502 in HTML
            return web.Response(status=502, content_type="text/html",
                                text="<html><head><title>502 Bad Gateway</title></head>"
                                     "<body><center><h1>502 Bad Gateway</h1></center>"
                                     "<hr><center>nginx/1.18.0</center></body></html>")
        return _error(ApiError(500, "Internal Server Error"))

    async def _dispatch(self, method: str, params: Mapping[str, Any]) -> Any:
        if method == "getupdates":
            return await self._get_updates(params)
        handler = self._methods.get(method)
        if handler is None:
            raise ApiError(404, "Not Found")
        if method in SEND_METHODS:
            self._check_429(get_chat_id(params))
        with self.state.lock:
            result = handler(params)
        if method == "setwebhook":
            self._ensure_pusher()
        self.signal.notify()
        return result

    def _check_429(self, chat_id: int) -> None:
        injected = self._injected.take(str(chat_id))
        if injected is not None:
            raise too_many_requests(injected)
        if self._limiter is not None:
            wait = self._limiter.check(str(chat_id))
            if wait:
                raise too_many_requests(wait)

    async def _recorded_poll(self, request: web.Request,
                             params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """A getUpdates call, recorded with its start, end, caller tag and outcome."""
        tag = _parse_tag(request.headers.get(POLL_TAG_HEADER, ""))
        start = self._monotonic()
        status, count = 200, 0
        try:
            updates = await self._get_updates(params, request)
            count = len(updates)
            return updates
        except ApiError as exc:
            status = exc.code
            raise
        except _HungUp:
            status = 499
            raise
        finally:
            with self._polls_lock:
                self.polls.append(PollRecord(start, self._monotonic(), tag.get("caller", ""),
                                             _int_or_none(tag.get("epoch")), status, count))

    def conflicts(self) -> int:
        """How many getUpdates calls were answered 409 Conflict."""
        with self._polls_lock:
            return sum(1 for p in self.polls if p.status == 409)

    async def _get_updates(self, params: Mapping[str, Any],
                           request: web.Request | None = None) -> list[dict[str, Any]]:
        timeout = min(max(get_int(params, "timeout") or 0, 0), MAX_POLL_TIMEOUT)
        with self.state.lock:
            self.state.poll_generation += 1
            generation = self.state.poll_generation
            updates = self.state.take_updates(params)
        self.signal.notify()  # an older long poll learns it was superseded
        if updates or timeout == 0:
            return updates

        def ready() -> bool:
            return (self.closing or self.state.poll_generation != generation
                    or bool(self.state.updates) or _hung_up(request))

        # Real Telegram ends a long poll whose client went away; so does the fake (a
        # killed poller must not look as if it were still polling).
        deadline = self._monotonic() + timeout
        while not await self.signal.wait_async(
                ready, min(HANGUP_CHECK_S, max(0.0, deadline - self._monotonic()))):
            if self._monotonic() >= deadline:
                break
        if _hung_up(request):
            raise _HungUp
        with self.state.lock:
            if self.state.poll_generation != generation:
                raise ApiError(409, "Conflict: terminated by other getUpdates request; "
                                    "make sure that only one bot instance is running")
            return self.state.take_updates(params)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        authorised = hmac.compare_digest(request.match_info["token"].encode(),
                                         self.token.encode())
        fault = self.fault_plan.decide("file") if authorised else FaultKind.NONE
        await self.record(request, "file", fault)
        early = await self.apply_fault(request, fault, lambda: self._fault_reply(fault))
        if early is not None:
            return early
        with self.state.lock:
            stored = self.state.file_by_path(request.match_info["path"]) if authorised \
                else None
        if stored is None:
            return _error(ApiError(404, "Not Found"))
        return web.Response(body=stored.data, content_type="application/octet-stream")

    async def _webhook_loop(self) -> None:
        """Push pending updates to the webhook one at a time, in order, retrying failures."""
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        try:
            await self._push_updates(session)
        finally:
            self._pushing = False  # before any await: a new setWebhook must start a pusher
            await session.close()

    async def _push_updates(self, session: aiohttp.ClientSession) -> None:
        while not self.closing and self.state.webhook.url:
            await self.signal.wait_async(
                lambda: (self.closing or not self.state.webhook.url
                         or bool(self.state.updates)), 1.0)
            with self.state.lock:
                nxt = None if self.closing else self.state.next_webhook_update()
                url, secret = self.state.webhook.url, self.state.webhook.secret_token
            if nxt is None:
                continue
            update_id, update = nxt
            headers = {"Content-Type": "application/json"}
            if secret:
                headers["X-Telegram-Bot-Api-Secret-Token"] = secret
            status, problem = 0, ""
            try:
                async with session.post(url, data=json.dumps(update),
                                        headers=headers) as resp:
                    status = resp.status
                    await resp.read()
                    problem = f"Wrong response from the webhook: {status} {resp.reason}"
            except (aiohttp.ClientError, TimeoutError, OSError):
                problem = "Connection refused"
            ok = 200 <= status < 300
            with self.state.lock:
                self.state.webhook.deliveries.append((update_id, status))
                if ok:
                    self.state.confirm_webhook_update(update_id)
                else:
                    self.state.webhook.last_error_date = self.state.now()
                    self.state.webhook.last_error_message = problem
            if not ok:
                await asyncio.sleep(self.webhook_retry_delay)


class _HungUp(Exception):
    """The client of a long poll closed its connection."""


def _hung_up(request: web.Request | None) -> bool:
    if request is None:
        return False
    transport = request.transport
    return transport is None or transport.is_closing()


def _parse_tag(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in value.split(";"):
        key, _, val = part.strip().partition("=")
        if key:
            out[key] = val
    return out


def _int_or_none(value: str | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def _error(exc: ApiError) -> web.Response:
    return web.json_response(exc.body(), status=exc.code)
