"""Per-platform send pacing shared by replicas, reserved in the outbox claim (issue 18).

The reservation grants the burst at once and then one send per interval up to the
horizon, from one row per platform that every replica's claim advances; a claim gives
back the rows whose slot lies past the horizon, due later with the attempt refunded.
The clinic-wide rate with three real replicas is measured by
tests/ha/test_shared_pacing.py (separate processes: in one process the workers' event
loops stall each other on the GIL, which no deployment has).
"""

from __future__ import annotations

import os
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
from medcrypt.storage.db import Engine, make_engine, session_factory
from medcrypt.storage.models.outbox import OutboxMessage
from medcrypt.storage.repos import pacing
from tests.support.whatsapp import sender_for

pytestmark = pytest.mark.postgres

KEYRING = Keyring({1: os.urandom(32)})
RATE = 10.0
#: Half a second's worth (``bot.outbox.pacing.burst_for``).
BURST = 5
ROWS = 40


def _worker(engine: Engine, tw: FakeTwilio, horizon: float) -> OutboxWorker:
    services = build_services(parse_settings({}), SystemClock(), environ={}, keyring=KEYRING,
                              engine=engine)
    return OutboxWorker(services, {Platform.WHATSAPP: sender_for(tw, 5.0)},
                        concurrency=ROWS, lease=timedelta(seconds=30),
                        pacing=SharedPacing({Platform.WHATSAPP: RATE}, horizon=horizon))


def _enqueue(engine: Engine, tw: FakeTwilio) -> list[int]:
    """One notice to each of ROWS recipients: every row is a queue head, claimable now."""
    sessions, clock = session_factory(engine), SystemClock()
    ids = []
    with sessions.begin() as s:
        for i in range(ROWS):
            number = f"+1555000{i:04d}"
            tw.open_window(number)
            rid = IdentityDirectory(KEYRING, clock).resolve(
                s, Platform.WHATSAPP, number).identity_id
            ids += queue.enqueue(s, OutboundMessage(rid, OutKind.NOTICE), [f"hello {i}"],
                                 clock.now())
    return ids


def test_a_claim_gives_back_what_does_not_fit_the_horizon(postgres_url: str) -> None:
    migrate.upgrade(postgres_url)
    engine = make_engine(postgres_url)
    with FakeTwilio() as tw:
        ids = _enqueue(engine, tw)
        worker = _worker(engine, tw, horizon=1.0)
        before = SystemClock().now()
        claimed = worker._claim(ROWS)
    # It asked for every row and got what fits within the horizon ...
    assert 0 < len(claimed) <= BURST + RATE * 1.0
    with session_factory(engine)() as s:
        rows = [s.get(OutboxMessage, i) for i in ids]
        given_back = [r for r in rows if r is not None and r.status == "pending"]
        # ... and gave the rest back, due later, the attempt refunded.
        assert len(given_back) == ROWS - len(claimed)
        assert all(r.attempts == 0 and r.last_error_code == "paced"
                   and r.next_attempt_at > before for r in given_back)
    engine.dispose()


def test_a_reservation_grants_only_what_can_go_within_the_horizon(postgres_url: str) -> None:
    migrate.upgrade(postgres_url)
    engine = make_engine(postgres_url)
    sessions = session_factory(engine)
    interval = 1.0 / RATE
    with sessions.begin() as s:
        grant = pacing.reserve(s, "whatsapp", 100, per_second=RATE, burst=BURST, horizon=1.0)
    # The burst at once, then one per interval up to the horizon.
    assert grant.delays[:BURST] == (0.0,) * BURST
    assert 0 < grant.delays[BURST] <= interval + 0.01
    assert len(grant.delays) in (BURST + int(RATE) - 1, BURST + int(RATE))
    assert max(grant.delays) <= 1.0
    assert all(b >= a for a, b in zip(grant.delays, grant.delays[1:], strict=False))
    assert grant.retry_in > 1.0 - interval
    with sessions.begin() as s:  # at once again: the horizon is full but for a slot or so
        again = pacing.reserve(s, "whatsapp", 100, per_second=RATE, burst=BURST, horizon=1.0)
    assert len(again.delays) <= 2
    assert all(d > 0.8 for d in again.delays)
    with sessions.begin() as s:  # another platform has a row of its own
        other = pacing.reserve(s, "telegram", 3, per_second=RATE, burst=BURST, horizon=1.0)
    assert other.delays == (0.0, 0.0, 0.0)
    engine.dispose()
