"""Pacing sends under a platform's global rate limit (token bucket, asyncio).

Telegram asks bots to stay under ~30 messages per second overall, Twilio queues beyond
an account's messages-per-second. Pacing below the limit avoids the 429s in the first
place; the per-chat limits are handled by the outbox (``retry_after`` delays only that
chat). A rate of 0 disables pacing. The clock is the loop's monotonic time. This is the pacing
of one process (SQLite); replicas on PostgreSQL share it in the database
(:mod:`bot.outbox.pacing`), and their outbox sends skip this one.
"""

from __future__ import annotations

import asyncio

from medcrypt.bot.outbox.pacing import MARGIN, burst_for


class Pacer:
    def __init__(self, per_second: float, burst: int | None = None) -> None:
        self._rate = per_second * MARGIN
        self._burst = float(burst if burst is not None else burst_for(per_second))
        self._tokens = self._burst
        self._stamp: float | None = None
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        """Return when one more send fits under the rate."""
        if self._rate <= 0:
            return
        async with self._lock:
            loop = asyncio.get_running_loop()
            now = loop.time()
            if self._stamp is None:
                self._stamp = now
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            if self._tokens < 1.0:
                delay = (1.0 - self._tokens) / self._rate
                await asyncio.sleep(delay)
                self._stamp = loop.time()
                self._tokens = 0.0
            else:
                self._tokens -= 1.0
