"""The sandbox fakes in a child process, driven over a pipe.

Why: the real Telegram and Twilio are remote services. When the fakes share the bot's
process (and event loop), every request the bot makes is also served by that loop, so a
benchmark charges the platforms' work to the bot and the bot never gets a core to
itself. :class:`RemoteSandbox` starts ``python -m sandbox.remote CONFIG`` with a
FakeTelegram and a FakeTwilio on loopback HTTP, and forwards the JSON operations of
:class:`sandbox.ops.SandboxOps` over the child's stdin/stdout, one JSON object per
line. The child exits when its stdin closes, so a crashed parent leaves no orphan.

Usage (async)::

    async with RemoteSandbox(webhook_url="http://127.0.0.1:8080/twilio/inbound") as sb:
        info = sb.info                    # URLs and credentials for the bot's settings
        await sb.call("user_sends_texts", [[user_id, text]])
        await sb.call("wait_tg", chat_id, 3)
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import sys
from types import TracebackType
from typing import Any, Self

from medcrypt.crypto.errors import TransportError
from medcrypt.sandbox.fake_telegram import FakeTelegram
from medcrypt.sandbox.fake_twilio import FakeTwilio
from medcrypt.sandbox.faults import RateLimits
from medcrypt.sandbox.ops import SandboxOps

#: Longest line either side accepts (bulk operations carry thousands of tokens).
LINE_LIMIT = 64 * 1024 * 1024
#: Operations the child serves: SandboxOps' public methods, nothing else.
OPS = frozenset(name for name, _ in inspect.getmembers(SandboxOps, inspect.isfunction)
                if not name.startswith("_"))


class RemoteSandbox:
    """Parent side: start the child, send operations, match answers by request id."""

    def __init__(self, *, webhook_url: str | None = None, signature_url: str | None = None,
                 tg_rate_limits: RateLimits | None = None, callback_delay: float = 0.0,
                 start_timeout: float = 30.0) -> None:
        self._config: dict[str, Any] = {
            "webhook_url": webhook_url, "signature_url": signature_url,
            "callback_delay": callback_delay,
            "tg_rate_limits": None if tg_rate_limits is None else {
                "per_chat_per_second": tg_rate_limits.per_chat_per_second,
                "per_chat_burst": tg_rate_limits.per_chat_burst,
                "global_per_second": tg_rate_limits.global_per_second,
                "global_burst": tg_rate_limits.global_burst}}
        self._start_timeout = start_timeout
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0
        self.info: dict[str, Any] = {}
        self.pid = 0

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "medcrypt.sandbox.remote", json.dumps(self._config),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=LINE_LIMIT)
        self.pid = self._proc.pid
        assert self._proc.stdout is not None
        try:
            first = await asyncio.wait_for(self._proc.stdout.readline(), self._start_timeout)
        except TimeoutError:
            await self.stop()
            raise TransportError("the sandbox process did not start in time") from None
        if not first:
            await self.stop()
            raise TransportError("the sandbox process exited during start-up "
                                      "(its stderr says why)")
        self.info = json.loads(first)["ready"]
        self._reader = asyncio.create_task(self._read_answers())

    async def _read_answers(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        try:
            while line := await self._proc.stdout.readline():
                answer = json.loads(line)
                future = self._pending.pop(int(answer["id"]), None)
                if future is None or future.done():
                    continue
                if "error" in answer:
                    future.set_exception(TransportError(str(answer["error"])))
                else:
                    future.set_result(answer["ok"])
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(TransportError("the sandbox process exited"))
            self._pending.clear()

    async def call(self, op: str, *args: Any) -> Any:
        """Run one :class:`SandboxOps` operation in the child and return its result."""
        if op not in OPS:
            raise TransportError(f"unknown sandbox operation {op!r}")
        proc = self._proc
        if proc is None or proc.stdin is None or proc.returncode is not None:
            raise TransportError("the sandbox process is not running")
        self._next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = future
        proc.stdin.write(json.dumps({"id": self._next_id, "op": op, "args": list(args)})
                         .encode() + b"\n")
        await proc.stdin.drain()
        return await future

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()  # EOF: the child stops its fakes and exits
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, et: type[BaseException] | None, ev: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()


# -- child side -------------------------------------------------------------------------
async def _serve(config: dict[str, Any], out: Any) -> None:
    limits = config.get("tg_rate_limits")
    async with FakeTelegram(rate_limits=RateLimits(**limits) if limits else None) as tg, \
            FakeTwilio(webhook_url=config.get("webhook_url"),
                       signature_url=config.get("signature_url"),
                       callback_delay=float(config.get("callback_delay") or 0.0)) as tw:
        ops = SandboxOps(tg, tw)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=LINE_LIMIT)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                     sys.stdin.buffer)

        def answer(payload: dict[str, Any]) -> None:
            out.write(json.dumps(payload).encode() + b"\n")
            out.flush()

        async def run(request: dict[str, Any]) -> None:
            rid = request.get("id")
            op = str(request.get("op"))
            try:
                if op not in OPS:
                    raise ValueError(f"unknown operation {op!r}")
                result = getattr(ops, op)(*request.get("args", []))
                if inspect.isawaitable(result):
                    result = await result
                answer({"id": rid, "ok": result})
            except Exception as exc:  # reported to the caller, the sandbox keeps serving
                answer({"id": rid, "error": f"{type(exc).__name__}: {exc}"})

        answer({"ready": ops.info()})
        tasks: set[asyncio.Task[None]] = set()
        while line := await reader.readline():
            task = asyncio.create_task(run(json.loads(line)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def main(argv: list[str]) -> int:
    config = json.loads(argv[0]) if argv else {}
    # Answers go to the original stdout; anything else printed goes to stderr, so a
    # stray print or warning cannot corrupt the protocol.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    asyncio.run(_serve(config, out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
