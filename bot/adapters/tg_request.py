"""python-telegram-bot's networking on aiohttp instead of httpx.

Why: measured with a PTB ``Bot`` calling sendMessage on the sandbox fake running in a
child process (loopback, 2 cores), PTB's stock ``HTTPXRequest`` cost the calling
process 2.0-5.2 ms of CPU per Bot API call and got *slower* with concurrency (≈250
calls/s sequential, ≈170/s with 32 in flight; ≈420/≈210 once keep-alive covered the
whole pool), while the same ``Bot`` on this transport cost ≈0.45 ms per call and kept
≈1,300-1,400 calls/s at 1, 8 and 32 in flight. The outbox sends many chats in parallel, so the
transport was the relay's bottleneck. aiohttp is already a dependency (the twilio async
client runs on it), and ``BaseRequest`` is PTB's documented extension point for
networking backends, so nothing of PTB's API handling is bypassed: PTB still builds
every request and parses every answer (errors, ``retry_after``, migrations).

One ``ClientSession`` per instance, created in the running loop by ``initialize()``;
connections are kept alive up to ``connection_pool_size`` (httpx's default keeps only
20 alive however large the pool, so a 32-wide outbox kept reconnecting). Proxies from
the environment (``HTTPS_PROXY``, ``NO_PROXY``...) are honoured as with httpx, but only
when one is set: with ``trust_env`` aiohttp looks the proxy up in a worker thread on
every request, which cost a thread hop per Bot API call for nothing.
"""

from __future__ import annotations

import urllib.request

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class AiohttpRequest(BaseRequest):
    """A :class:`telegram.request.BaseRequest` backed by one aiohttp ``ClientSession``."""

    __slots__ = ("_connect", "_pool", "_read", "_session", "_size", "_write", "tag")

    def __init__(self, connection_pool_size: int = 32, *, read_timeout: float | None = 5.0,
                 write_timeout: float | None = 5.0, connect_timeout: float | None = 5.0,
                 pool_timeout: float | None = 1.0) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._size = connection_pool_size
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._session: aiohttp.ClientSession | None = None
        #: Extra headers of the following requests (the poll's lease tag; empty: none).
        self.tag: dict[str, str] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._size, limit_per_host=self._size,
                                             keepalive_timeout=60.0)
            self._session = aiohttp.ClientSession(
                connector=connector, trust_env=bool(urllib.request.getproxies()),
                headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def _timeout(self, read: ODVInput[float], write: ODVInput[float],
                 connect: ODVInput[float], pool: ODVInput[float]) -> aiohttp.ClientTimeout:
        """PTB's four timeouts in aiohttp's terms: ``connect`` there includes waiting for
        a pooled connection, and aiohttp has no write timeout, so the overall bound is
        the sum of all four (None anywhere means unbounded)."""
        r = self._read if isinstance(read, DefaultValue) else read
        w = self._write if isinstance(write, DefaultValue) else write
        c = self._connect if isinstance(connect, DefaultValue) else connect
        p = self._pool if isinstance(pool, DefaultValue) else pool
        parts = (r, w, c, p)
        total = None if any(x is None for x in parts) else sum(x or 0.0 for x in parts)
        acquire = None if c is None or p is None else c + p
        return aiohttp.ClientTimeout(total=total, connect=acquire, sock_connect=c,
                                     sock_read=r)

    async def do_request(  # noqa: PLR0917 - the signature is PTB's BaseRequest's
        self, url: str, method: str, request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        data: aiohttp.FormData | dict[str, str] | None = None
        if request_data is not None:
            files = request_data.multipart_data
            if files:
                form = aiohttp.FormData()
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, (filename, content, mime) in files.items():
                    form.add_field(name, content, filename=filename, content_type=mime)
                data = form
            else:
                data = request_data.json_parameters  # sent form-urlencoded, like httpx
        timeout = self._timeout(read_timeout, write_timeout, connect_timeout, pool_timeout)
        try:
            async with session.request(method, url, data=data, timeout=timeout,
                                       headers=self.tag or None) as resp:
                return resp.status, await resp.read()
        except TimeoutError as exc:  # includes aiohttp's ServerTimeoutError
            raise TimedOut from exc
        except (aiohttp.ClientError, OSError) as exc:
            # The class name only: aiohttp's messages can quote the URL, which holds the
            # bot token.
            raise NetworkError(f"aiohttp.{type(exc).__name__}") from None
