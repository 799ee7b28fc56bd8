"""A notice longer than one platform message takes one pacing slot per message it is
split into (issue 18, "Rates hold"; ADR 0038 amendment 2).

The platform counts the messages that arrive, not the outbox rows behind them. A row
that the claim granted one slot and that then went out as three messages put three
sends where the reservation had counted one. Here one real worker with the shared
pacing on PostgreSQL drains notices of three WhatsApp messages each, and the fake
Twilio's own record of arrivals (``worst_send_window``) is held to rate + burst.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta

import pytest

from medcrypt.bot.app.wiring import SystemClock, build_services
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.identities import IdentityDirectory
from medcrypt.bot.domain.messages import OutboundMessage, OutKind, Platform
from medcrypt.bot.outbox import queue
from medcrypt.bot.outbox.pacing import SharedPacing
from medcrypt.bot.outbox.worker import OutboxWorker
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.sandbox import FakeTwilio
from medcrypt.storage import migrate
from medcrypt.storage.db import make_engine, session_factory
from tests.support.whatsapp import sender_for

pytestmark = pytest.mark.postgres

KEYRING = Keyring({1: os.urandom(32)})
RATE = 10.0
#: Half a second's worth (``bot.outbox.pacing.burst_for``).
BURST = 5
NOTICES = 12
#: WhatsApp's default limit is 1,600 characters: each notice goes out as 3 messages.
PIECES = 3
WORD = "pacing "


def _long_notice(i: int) -> str:
    return f"notice {i} " + WORD * (1500 * PIECES // len(WORD) - 100)


@pytest.mark.timeout(60)
async def test_each_piece_of_a_split_notice_takes_its_own_slot(postgres_url: str) -> None:
    migrate.upgrade(postgres_url)
    engine = make_engine(postgres_url)
    settings = parse_settings({})
    services = build_services(settings, SystemClock(), environ={}, keyring=KEYRING,
                              engine=engine)
    assert len(services.channels[Platform.WHATSAPP].split(_long_notice(0))) == PIECES
    sessions, clock = session_factory(engine), SystemClock()
    numbers = [f"+1555410{i:04d}" for i in range(NOTICES)]
    async with FakeTwilio() as tw:
        with sessions.begin() as s:
            for i, number in enumerate(numbers):
                tw.open_window(number)
                rid = IdentityDirectory(KEYRING, clock).resolve(
                    s, Platform.WHATSAPP, number).identity_id
                queue.enqueue(s, OutboundMessage(rid, OutKind.NOTICE), [_long_notice(i)],
                              clock.now())
        worker = OutboxWorker(
            services, {Platform.WHATSAPP: sender_for(tw, 5.0)}, concurrency=NOTICES,
            lease=timedelta(seconds=30),
            pacing=SharedPacing({Platform.WHATSAPP: RATE}, horizon=10.0))
        stop = asyncio.Event()
        started = time.monotonic()
        task = asyncio.create_task(worker.run(stop, idle_seconds=0.2))
        deadline = time.monotonic() + 40
        while len(tw.send_times) < NOTICES * PIECES and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stop.set()
        await task
        sent = len(tw.send_times)
        worst = tw.worst_send_window(since=started)
    engine.dispose()
    print(f"\n{NOTICES} notices of {PIECES} messages at {RATE:g}/s + burst {BURST}: "
          f"worst 1 s window {worst}")
    assert sent == NOTICES * PIECES, sent
    assert all(len(tw.messages_to(n)) == PIECES for n in numbers)
    # The designed schedule is the shared burst (4) and then 8 a second; one slot per
    # row let each row's three messages leave together, about three times that.
    assert worst <= RATE + BURST, f"{worst} messages reached the platform within 1 s"
