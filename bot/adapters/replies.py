"""Direct replies sent in order by one task, each once its shared pacing slot comes.

When the replicas share the send pacing (ADR 0038 amendment 2), a reply the adapter
sends itself - to a stranger, who has no outbox queue - waits for a slot that the
outbox's claims may have booked up to the pacing horizon ahead. Waiting for it inside
the Telegram poll's handling would hold every update behind it: a handful of strangers
sending ``/help`` during a backlog would stall the relay's intake for seconds each. So
the handling only queues the reply; this one task takes the slots and sends, in the
order queued. The queue is bounded: past :data:`BACKLOG` replies, or when no slot is
free within the horizon, a reply is dropped (``direct_reply_paced_out``), never the
relayed traffic's rate.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from medcrypt.bot.domain.messages import Platform
from medcrypt.bot.outbox.pacing import ReplySlot

log = structlog.get_logger("bot.adapters.replies")

#: Replies waiting for a slot at most; more are dropped (a flood of strangers).
BACKLOG = 256


class PacedReplies:
    """Queue ``(chat, text)`` replies; one task sends them through ``send`` in order."""

    def __init__(self, platform: Platform, slot: ReplySlot,
                 send: Callable[[str, str], Awaitable[None]]) -> None:
        self._platform = platform
        self._slot = slot
        self._send = send
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(maxsize=BACKLOG)
        self._task: asyncio.Task[None] | None = None

    def put(self, chat: str, pieces: list[str]) -> None:
        """Queue one reply's pieces (in order); drop what does not fit."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        for n, piece in enumerate(pieces):
            try:
                self._queue.put_nowait((chat, piece))
            except asyncio.QueueFull:
                log.info("direct_reply_paced_out", platform=self._platform.value,
                         reason="backlog", pieces=len(pieces) - n)
                return

    async def _run(self) -> None:
        while True:
            chat, text = await self._queue.get()
            try:
                if await self._slot(self._platform):
                    await self._send(chat, text)
                else:
                    log.info("direct_reply_paced_out", platform=self._platform.value,
                             reason="no_slot", pieces=1)
            except Exception as exc:  # one reply's failure must not end the others
                log.info("direct_reply_failed", reason=type(exc).__name__)
            finally:
                self._queue.task_done()

    async def drain(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) for the queued replies, then stop."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
