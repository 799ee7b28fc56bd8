"""Outbox outcomes are fenced by the claim: a worker whose claim expired cannot
overwrite what a newer claim recorded (issue 18, outbox correctness across replicas).

Two replicas' workers (two real :class:`OutboxWorker`, each with the real WhatsApp
sender) drain one database against the fake Twilio. Worker A claims a row and is
paused - as a SIGSTOPped or GC-stalled replica would be - past its lease. Worker B's
recovery finds the row in doubt, Twilio has no such message, so the row is due again;
B claims it anew and sends it. Then A wakes, sends its copy and reports "sent" with
its own SID: that late outcome must not replace B's, or B's delivery receipts would
name a message the row no longer knows. Since ADR 0032 amendment 2, A does not even send:
its send could not end before its claim expired, so it gives the row up unsent (its
outcome, fenced like the others, changes nothing either).
"""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

from medcrypt.bot.app.wiring import SystemClock, build_services
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.identities import IdentityDirectory
from medcrypt.bot.domain.messages import OutboundMessage, OutKind, Platform
from medcrypt.bot.outbox import queue
from medcrypt.bot.outbox.worker import OutboxWorker
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.sandbox import FakeTwilio
from medcrypt.storage import migrate
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.models.outbox import OutboxMessage
from tests.support.whatsapp import sender_for

KEYRING = Keyring({1: os.urandom(32)})
NUMBER = "+15550004444"
#: Short enough for the test to wait it out on the database's own clock.
LEASE_SECONDS = 1.0
#: The sender's request timeout: a send starts only this long before its claim ends.
SEND_TIMEOUT = 0.3


def _worker(engine: object, tw: FakeTwilio) -> OutboxWorker:
    settings = parse_settings({})
    services = build_services(settings, SystemClock(), environ={}, keyring=KEYRING,
                              engine=engine)  # type: ignore[arg-type]
    return OutboxWorker(services, {Platform.WHATSAPP: sender_for(tw, SEND_TIMEOUT)},
                        lease=timedelta(seconds=LEASE_SECONDS), send_timeout=SEND_TIMEOUT)


async def test_a_paused_workers_late_sent_does_not_overwrite_the_newer_claim(
        database_url: str) -> None:
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    clock = SystemClock()
    with sessions.begin() as s:
        rid = IdentityDirectory(KEYRING, clock).resolve(
            s, Platform.WHATSAPP, NUMBER).identity_id
        [row_id] = queue.enqueue(s, OutboundMessage(rid, OutKind.NOTICE), ["hello"],
                                 clock.now())
    async with FakeTwilio() as tw:
        tw.open_window(NUMBER)
        a, b = _worker(engine, tw), _worker(engine, tw)
        paused = a._claim(1)  # A claims ... and stops before sending
        assert [d.row_id for d in paused] == [row_id]
        await asyncio.sleep(LEASE_SECONDS + 0.5)  # A's claim expires while it is stopped
        await b.recover()  # in doubt, Twilio has no such message: due again
        assert await b.run_once() == 1  # B's newer claim sends it
        with sessions() as s:
            newer = s.get(OutboxMessage, row_id)
            assert newer is not None and newer.status == "sent"
            b_sid = newer.platform_message_id
        stale_claim = a._claims[row_id]
        await asyncio.gather(*(a._send_one(d) for d in paused))  # A wakes, too late
        # A pause that fell inside the platform call instead: the request left in time,
        # its answer is recorded late - and is dropped by the fence.
        a._record_sent_many([(stale_claim, "SM" + "0" * 32)])
        with sessions() as s:
            after = s.get(OutboxMessage, row_id)
            assert after is not None
            assert (after.status, after.platform_message_id) == ("sent", b_sid), (
                "a stale claim's outcome overwrote the newer claim's")
        assert len(tw.messages_to(NUMBER)) == 1  # A's claim had lapsed: it sent nothing
    engine.dispose()
