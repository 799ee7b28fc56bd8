"""Bulk driver operations on a running pair of fakes, with JSON-only arguments and results.

Why a separate vocabulary: the same operations run either directly in the caller's
event loop (in-process sandbox) or inside a child process behind a pipe
(:mod:`sandbox.remote`), so everything here takes and returns plain JSON values.
The bulk forms (``user_sends_texts``, ``whatsapp_burst``, ``paced``) exist so that
a benchmark driving hundreds of messages per second pays one round trip per batch, not
per message: the bot's process should spend its CPU on the bot.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from medcrypt.sandbox.fake_telegram import FakeTelegram
from medcrypt.sandbox.fake_twilio import FakeTwilio
from medcrypt.sandbox.tw_models import whatsapp_address

#: One simulated user message: ("tg", user id, text) or ("wa", "+1555...", body).
Item = Sequence[Any]


class SandboxOps:
    """Driver operations over one FakeTelegram and one FakeTwilio in the running loop."""

    def __init__(self, tg: FakeTelegram, tw: FakeTwilio) -> None:
        self.tg = tg
        self.tw = tw

    def info(self) -> dict[str, Any]:
        """What a bot needs to be pointed at the fakes (URLs and credentials)."""
        return {"tg_token": self.tg.token, "tg_base_url": self.tg.base_url,
                "tg_file_url": self.tg.base_file_url, "tw_url": self.tw.api_base_url,
                "tw_account_sid": self.tw.account_sid, "tw_auth_token": self.tw.auth_token,
                "tw_whatsapp_from": self.tw.whatsapp_from}

    # -- simulated users ----------------------------------------------------------------
    async def user_sends_texts(self, pairs: Sequence[Sequence[Any]]) -> list[int]:
        """Telegram users write (user id, text) pairs; returns the message ids."""
        return [self.tg.user_sends_text(int(user), str(text)) for user, text in pairs]

    async def user_sends_whatsapp(self, number: str, body: str) -> int:
        """One signed inbound webhook; returns the bot's HTTP status (0: no answer)."""
        result = await self.tw.user_sends_whatsapp_async(number, body)
        return result.http_status

    async def whatsapp_burst(self, pairs: Sequence[Sequence[Any]],
                             concurrency: int = 16) -> list[int]:
        """(number, body) webhooks posted ``concurrency`` at a time; HTTP statuses in order."""
        gate = asyncio.Semaphore(max(1, concurrency))

        async def post(number: str, body: str) -> int:
            async with gate:
                return await self.user_sends_whatsapp(number, body)

        return list(await asyncio.gather(*(post(str(n), str(b)) for n, b in pairs)))

    async def paced(self, items: Sequence[Item], per_second: float) -> dict[str, Any]:
        """Send the items evenly spaced at ``per_second`` (both platforms may be mixed).

        Each item starts on schedule even when an earlier webhook is still being
        answered (a platform does not wait for the bot), so a slow bot shows up as
        latency rather than as a slower offered rate. Returns the offered rate achieved
        and the webhook statuses.
        """
        loop = asyncio.get_running_loop()
        start = loop.time()
        pending: list[asyncio.Task[int]] = []
        for i, item in enumerate(items):
            delay = start + i / per_second - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            platform, who, text = item[0], item[1], item[2]
            if platform == "tg":
                self.tg.user_sends_text(int(who), str(text))
            elif platform == "wa":
                pending.append(asyncio.ensure_future(
                    self.user_sends_whatsapp(str(who), str(text))))
            else:
                raise ValueError(f"unknown platform {platform!r} (expected 'tg' or 'wa')")
        offered = len(items) / max(loop.time() - start, 1e-9)
        statuses = list(await asyncio.gather(*pending))
        return {"offered_per_second": offered, "statuses": statuses}

    # -- inspection ------------------------------------------------------------------
    def tg_texts(self, chat_id: int) -> list[str | None]:
        """What the bot sent to a Telegram chat (text, or None for a document)."""
        return [m.text for m in self.tg.messages_to(int(chat_id))]

    def tw_bodies(self, number: str) -> list[str | None]:
        """What the bot sent to a WhatsApp number (body, None for templates/media)."""
        return [m.body for m in self.tw.messages_to(whatsapp_address(number))]

    async def wait_tg(self, chat_id: int, n: int, timeout: float = 10.0) -> list[str | None]:
        await self.tg.wait_for_messages_async(int(chat_id), int(n), timeout=timeout)
        return self.tg_texts(chat_id)

    async def wait_tw(self, number: str, n: int, timeout: float = 10.0) -> list[str | None]:
        await self.tw.wait_until_async(lambda: len(self.tw.messages_to(number)) >= n,
                                       timeout=timeout)
        return self.tw_bodies(number)

    def totals(self) -> dict[str, Any]:
        """Counters for a benchmark's sanity checks and for leak-free summaries."""
        sent = self.tg.all_sent()
        with self.tw._lock:
            wa = list(self.tw.messages.values())
            callbacks = len(self.tw.callbacks)
        return {"tg_sent": len(sent), "tg_requests": len(self.tg.requests),
                "tw_messages": len(wa), "tw_requests": len(self.tw.requests),
                "tw_callbacks": callbacks, "at": time.time()}

    def sent_texts(self) -> list[str]:
        """Every text the bot sent on either platform (for exactly-once checks)."""
        texts = [m.text for m in self.tg.all_sent() if m.text]
        with self.tw._lock:
            texts += [m.body for m in self.tw.messages.values() if m.body]
        return texts
