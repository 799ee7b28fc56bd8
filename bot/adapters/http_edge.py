"""The edge of every HTTP endpoint the bot serves: a body cap, and no tracebacks.

An ASGI middleware wrapped around each of the bot's web apps (the Twilio webhook,
status callbacks and media; the Telegram webhook) by :class:`~.http_listener.Listener`,
so no route can forget it:

- **Body cap.** A request whose ``Content-Length`` exceeds the cap gets 413 without a
  byte of its body read; a streamed (chunked) body is read only up to the cap, then
  413. The app then gets the body already read, in one message - so it runs after
  the cap, and signature or secret checks never see an oversized body. Memory per
  request is bounded by the cap (uvicorn stops reading a socket once ~64 KiB wait
  unconsumed), where reading first and checking later grew the bot by 800 MiB for one
  unsigned 400 MB POST. A refused request's connection is closed, so the rest of a
  huge body is not drained either.
- **No tracebacks.** An exception escaping an app is logged as its type and the
  endpoint's name (never the path: media URLs are capabilities) and answered 500, so
  uvicorn's logger never renders a traceback whose messages quote request data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import structlog

log = structlog.get_logger("bot.http")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _Disconnected(Exception):
    """The client went away before its body was complete: nothing to answer."""


class _OverCap(Exception):
    """The streamed body passed the cap."""


class BodyCapped:
    """ASGI middleware: cap the request body, and keep tracebacks out of the log."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, endpoint: str) -> None:
        if max_body_bytes < 1:
            raise ValueError("max_body_bytes must be positive")
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is off and websockets are not routed
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope.get("headers", ()))
        if declared == -1:
            await self._refuse(send, 400, "bad_content_length")
            return
        if declared is not None and declared > self.max_body_bytes:
            await self._refuse(send, 413, "declared_too_large")
            return
        try:
            body = await read_capped(receive, self.max_body_bytes)
        except _OverCap:
            await self._refuse(send, 413, "streamed_too_large")
            return
        except _Disconnected:
            return
        await self._run(scope, _replay(body, receive), send)

    async def _run(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            log.error("http_handler_failed", endpoint=self.endpoint, error=type(exc).__name__)
            if not started:
                await _plain(send, 500, close=False)

    async def _refuse(self, send: Send, status: int, reason: str) -> None:
        log.warning("http_request_refused", endpoint=self.endpoint, status=status,
                    reason=reason)
        await _plain(send, status, close=True)


def declared_length(headers: Any) -> int | None:
    """The request's ``Content-Length``: None when absent, -1 when unusable.

    Several headers must agree and each be plain decimal digits (RFC 9110 §8.6);
    uvicorn's parser already refuses most malformed values, this is the backstop.
    """
    values = {value.strip() for name, value in headers if name.lower() == b"content-length"}
    if not values:
        return None
    if len(values) != 1:
        return -1
    (value,) = values
    if not value.isdigit() or len(value) > 19:
        return -1
    return int(value)


async def read_capped(receive: Receive, cap: int) -> bytes:
    """The whole request body, or :class:`_OverCap` as soon as it passes ``cap`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if size > cap:
            raise _OverCap
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then the real channel
    (an app may wait for ``http.disconnect``)."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _plain(send: Send, status: int, *, close: bool) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"0")]
    if close:  # uvicorn closes the socket instead of reading the rest of the body
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
