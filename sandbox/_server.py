"""Shared machinery of the loopback fakes: lifecycle, request log, wake-ups, faults.

A fake runs either as tasks in the caller's event loop (``async with``) or in a
background thread with its own loop (``with``), so both async tests and synchronous
clients (the blocking twilio ``Client``) can talk to it. It always binds to 127.0.0.1
on an ephemeral port: the sandbox must never be reachable from the network, and the
tests must never reach anything but loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

from medcrypt.sandbox.faults import FaultKind, FaultPlan, Faults

T = TypeVar("T")

LOOPBACK = "127.0.0.1"
#: Larger than Telegram's 50 MB upload limit so the fake, not aiohttp, answers 413.
MAX_BODY = 64 * 1024 * 1024


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request a client made to a fake, kept verbatim for leak scanning."""

    http_method: str
    path: str
    api_method: str
    query: str
    headers: dict[str, str]
    body: bytes
    fault: FaultKind = FaultKind.NONE
    at: float = field(default_factory=time.time)


class Signal:
    """Wakes async waiters in the server loop and blocking waiters in other threads."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event = asyncio.Event()

    def bind(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self._loop = loop
        self._event = asyncio.Event()

    def notify(self) -> None:
        with self._cond:
            self._cond.notify_all()
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if _in_loop(loop):  # the common case: no self-pipe write needed
            self._fire()
            return
        # The loop may close between the check and the call: nobody is waiting then.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait_async(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait in the server loop until ``predicate()`` holds; False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            event = self._event
            if predicate():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return predicate()

    def wait_sync(self, predicate: Callable[[], bool], timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(predicate, timeout)


class LoopbackServer:
    """Base class: an aiohttp app on 127.0.0.1:<ephemeral> with a request log and faults."""

    def __init__(self, faults: Faults | None = None) -> None:
        self.fault_plan = FaultPlan(faults)
        self.requests: list[RecordedRequest] = []
        self.signal = Signal()
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lock = threading.RLock()
        self.closing = False
        #: The monotonic instant each send request (a message posted into a chat) arrived,
        #: in arrival order: what a platform's global rate limit counts.
        self.send_times: list[float] = []
        #: Seconds every send request waits before it is answered (a platform's latency).
        self.send_latency = 0.0

    # -- subclass hooks -------------------------------------------------------------
    def build_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def on_start(self) -> None:
        """Called in the server loop after the socket is bound."""

    async def on_stop(self) -> None:
        """Called in the server loop before the socket is closed."""

    # -- lifecycle ------------------------------------------------------------------
    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("the sandbox server is not running")
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def faults(self) -> Faults:
        return self.fault_plan.faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        self.fault_plan.configure(value)

    async def start(self) -> None:
        """Bind and serve in the running loop."""
        if self._runner is not None:
            raise RuntimeError("already started")
        self.closing = False
        self._loop = asyncio.get_running_loop()
        self.signal.bind(self._loop)
        app = web.Application(client_max_size=MAX_BODY)
        self.build_routes(app)
        runner = web.AppRunner(app, access_log=None, handle_signals=False,
                               shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, LOOPBACK, 0)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        await self.on_start()

    async def stop(self) -> None:
        """Wake long polls, cancel background work, close the socket."""
        self.closing = True
        self.signal.notify()
        await self.on_stop()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = None
        self.port = 0
        self.signal.bind(None)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, et: type[BaseException] | None, ev: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    def __enter__(self) -> Self:
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                loop.close()
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name=type(self).__name__, daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = None

    # -- helpers for subclasses and drivers -------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run background work (callbacks, webhook pushes) owned by the server loop."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the sandbox server is not running")

        def create() -> None:
            task = loop.create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        if _in_loop(loop):
            create()
        else:
            loop.call_soon_threadsafe(create)

    def run_sync(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coro`` in the server loop from another thread and wait for the result."""
        loop = self._loop
        if loop is None or self._thread is None:
            coro.close()
            raise RuntimeError(
                "synchronous driver calls need the threaded sandbox (`with Fake...()`); "
                "in an async test use the *_async variant")
        if _in_loop(loop):
            coro.close()
            raise RuntimeError("synchronous driver call from inside the sandbox loop")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    async def arrived_send(self) -> None:
        """Note a send request's arrival, then wait out the simulated latency."""
        with self._lock:
            self.send_times.append(time.monotonic())
        if self.send_latency > 0:
            await asyncio.sleep(self.send_latency)

    def worst_send_window(self, seconds: float = 1.0, *, since: float = 0.0) -> int:
        """The most send requests that arrived within any window of ``seconds`` (those
        that arrived from monotonic instant ``since`` on)."""
        with self._lock:
            times = sorted(t for t in self.send_times if t >= since)
        worst, lo = 0, 0
        for hi, t in enumerate(times):
            while t - times[lo] >= seconds:
                lo += 1
            worst = max(worst, hi - lo + 1)
        return worst

    async def record(self, request: web.Request, api_method: str,
                     fault: FaultKind = FaultKind.NONE) -> bytes:
        body = await request.read()
        with self._lock:
            self.requests.append(RecordedRequest(
                http_method=request.method, path=request.path, api_method=api_method,
                query=request.query_string, headers=dict(request.headers), body=body,
                fault=fault))
        return body

    async def apply_fault(self, request: web.Request, kind: FaultKind,
                          respond: Callable[[], Awaitable[web.StreamResponse]]
                          ) -> web.StreamResponse | None:
        """Carry out a pre-processing fault; None means handle the request normally."""
        if kind is FaultKind.DROP:
            return drop_connection(request)
        if kind is FaultKind.TIMEOUT:
            await asyncio.sleep(self.faults.hang_seconds)
            return drop_connection(request)
        if kind in (FaultKind.ERROR, FaultKind.RATE_LIMIT):
            return await respond()
        return None


def drop_connection(request: web.Request) -> web.Response:
    """Close the socket without writing a response (the client sees a disconnect)."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=204)


def _in_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
