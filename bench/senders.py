"""A platform sender that answers at once, for benchmarks that time the bot's own work
on the outbound path (claim, seal, mark sent) without any platform latency."""

from __future__ import annotations

import os

from medcrypt.bot.domain.sender import Delivery


class InstantSender:
    async def send(self, d: Delivery) -> str:
        return "SM" + os.urandom(8).hex()

    async def lookup(self, d: Delivery, since: float) -> None:
        return None
