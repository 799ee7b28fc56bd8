"""A Telegram poller starved of CPU must not outlive its lease (issue 18, "pollers never
overlap").

The three-replica test found it under CI load: a replica checked its poller lease,
then stalled long enough that its long poll reached Telegram seconds later and was
still open there when the lease had run out and another replica, with the next epoch,
polled - Telegram answers the older poll 409. These tests make that stall on purpose:
the lease view the adapter reads schedules a blocking callback on its own event loop,
so the process freezes between the check and the request leaving, as a descheduled
process does. The "next holder" then polls at the earliest moment the database could
have handed the lease over.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from medcrypt.bot.adapters import telegram as adapter_module
from medcrypt.bot.adapters.telegram import TelegramAdapter
from medcrypt.bot.app.bot import BotApp
from medcrypt.bot.app.roles import MARGIN_S
from medcrypt.bot.domain.config import parse_settings
from medcrypt.sandbox import FakeTelegram
from medcrypt.sandbox.fake_telegram import POLL_TAG_HEADER
from medcrypt.sandbox.fake_twilio import FakeTwilio
from tests.support.databases import migrated
from tests.support.ports import worker_port
from tests.support.replicas import poll_overlaps
from tests.support.rigs import environ_for, sandbox_settings

#: The lease as the adapter sees it right after a renewal (TTL 5 s less the margin).
FRESH_BUDGET_S = 5.0 - MARGIN_S


class Lease:
    """A poller lease as ``RoleKeeper`` reports it: (epoch, seconds left before the
    margin), or None once gone. It is renewed at every check until check number
    ``freeze_at`` (the pre-check of the second poll: the first poll leaves a kept-alive
    connection behind, as in steady state); from then on it runs out, and if
    ``stall_s`` is set the event loop freezes right after that check - the starved
    process."""

    def __init__(self, epoch: int, budget_s: float, *, freeze_at: int = 3,
                 stall_s: float = 0.0) -> None:
        self.epoch = epoch
        self.budget_s = budget_s
        self.freeze_at = freeze_at
        self.stall_s = stall_s
        self.ends = time.monotonic() + budget_s
        self.checks: list[float] = []
        self.frozen = threading.Event()

    def __call__(self) -> tuple[int, float] | None:
        now = time.monotonic()
        self.checks.append(now)
        if len(self.checks) <= self.freeze_at and not self.frozen.is_set():
            self.ends = now + self.budget_s
        if len(self.checks) == self.freeze_at:
            self.frozen.set()
            if self.stall_s:
                asyncio.get_running_loop().call_soon(time.sleep, self.stall_s)
        left = self.ends - now
        return None if left <= 0 else (self.epoch, left)

    @property
    def expires(self) -> float:
        """When another replica can take the lease at the earliest (the margin later)."""
        return self.ends + MARGIN_S


@contextlib.asynccontextmanager
async def polling(tmp_path: Path, lease: Callable[[], tuple[int, float] | None],
                  tag: str) -> AsyncIterator[tuple[FakeTelegram, TelegramAdapter,
                                                   asyncio.Task[None]]]:
    """A real Telegram adapter long-polling the fake under ``lease``, with a real bot's
    settings and intake (the intake never runs: nobody sends an update). The fakes run
    in a thread of their own, so a stalled adapter does not stall them."""
    port = worker_port()
    with FakeTelegram() as tg, FakeTwilio(
            webhook_url=f"http://127.0.0.1:{port}/twilio/inbound") as tw:
        db = tmp_path / "bot.db"
        migrated(f"sqlite:///{db}")
        env = environ_for(tg, tw)
        settings = parse_settings(sandbox_settings(
            tg, tw, port, db, telegram={"poll_timeout_seconds": 25,
                                        "request_timeout_seconds": 1.0}))
        app = BotApp(settings, environ=env)
        adapter = TelegramAdapter(settings, env[settings.telegram.token_env], app.intake,
                                  lambda: None, poll_lease=lease, poll_tag=tag)
        await adapter.start()
        loop = asyncio.create_task(adapter.run(lambda: None))
        try:
            yield tg, adapter, loop
        finally:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
            await adapter.stop()
            app.engine.dispose()


def next_holder_polls(tg: FakeTelegram, lease: Lease, epoch: int) -> threading.Thread:
    """What the replica that took the lease over does, in a thread of its own (the
    stalled loop cannot delay it): poll at the earliest moment the lease could pass."""

    def run() -> None:
        lease.frozen.wait(30)
        time.sleep(max(0.0, lease.expires - time.monotonic()))
        answer = httpx.post(f"{tg.base_url}{tg.token}/getUpdates", data={"timeout": "1"},
                            headers={POLL_TAG_HEADER: f"epoch={epoch}; caller=next"},
                            timeout=10)
        assert answer.status_code == 200

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("stall_s", [0.0, 2.2, 3.5])
async def test_a_starved_poller_is_gone_before_its_lease_can_be_taken(
        tmp_path: Path, stall_s: float) -> None:
    lease = Lease(epoch=3, budget_s=FRESH_BUDGET_S, stall_s=stall_s)
    async with polling(tmp_path, lease, "old") as (tg, _adapter, _loop):
        other = next_holder_polls(tg, lease, epoch=4)
        while other.is_alive():
            await asyncio.sleep(0.05)
    assert [p.epoch for p in sorted(tg.polls, key=lambda p: p.start)][-1] == 4
    assert poll_overlaps(tg) == []
    assert tg.conflicts() == 0


async def test_a_poll_ends_as_soon_as_the_role_is_lost(tmp_path: Path) -> None:
    lease = Lease(epoch=5, budget_s=FRESH_BUDGET_S, freeze_at=1)
    async with polling(tmp_path, lease, "old") as (tg, adapter, loop):
        await asyncio.sleep(adapter_module.HANDOVER_S + 0.8)  # the poll is open there
        lost = time.monotonic()
        lease.ends = lost  # the keeper dropped the role (renewal failed, or stop)
        adapter.abort_poll()
        deadline = lost + 3
        while not tg.polls and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        [poll] = tg.polls
        assert poll.status == 499 and poll.end - lost < 0.5
        await asyncio.sleep(0.5)
        assert len(tg.polls) == 1  # no other poll under the lost lease
        assert not loop.done()  # an abort is not a failure of the loop


async def test_a_new_holder_waits_before_its_first_poll(tmp_path: Path) -> None:
    """The previous holder may be a starved process whose poll Telegram has not ended;
    the new one leaves it :data:`HANDOVER_S` to end before polling."""
    lease = Lease(epoch=9, budget_s=FRESH_BUDGET_S, freeze_at=1)
    async with polling(tmp_path, lease, "new") as (tg, _adapter, _loop):
        await asyncio.sleep(adapter_module.HANDOVER_S + 0.5)
    deadline = time.monotonic() + 3
    while not tg.polls and time.monotonic() < deadline:  # recorded when it ends
        await asyncio.sleep(0.02)
    first = min(p.start for p in tg.polls)
    assert first - lease.checks[0] >= adapter_module.HANDOVER_S - 0.05
