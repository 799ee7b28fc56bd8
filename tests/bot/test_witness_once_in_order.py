"""Witness lines reach each admin once and in chain order, even past a paused replica
(issue 18, "the witness sender"; ADR 0032 amendment 2).

Since ADR 0036 every checkpoint queues its witness lines in its own transaction and any
replica's outbox worker sends them. This is why no ``witness`` role lease is needed:
the claim of an outbox row is already a lease on the database's clock with a fencing
token (``claimed_by``, ``attempts``), and the recipient's queue head sends one row at a
time, oldest first. What it lacked is the rule ADR 0032 set for the Telegram poll: a
call outside the database starts only if it ends before the local view of the lease.

The attack, with two real workers on one database and the fake Twilio: worker A claims
the admin's first witness row and is paused - as a SIGSTOPped replica is - past its
claim. Worker B finds the row in doubt (Twilio has no such message), claims it anew
and sends every line in order. Then A wakes and sends its copy: the admin's chat shows
the first checkpoint twice, the second time after the later ones. With the fence A
sends nothing.
"""

from __future__ import annotations

import asyncio
import base64
import os
from datetime import timedelta

from medcrypt.bot.app.wiring import SystemClock, build_services
from medcrypt.bot.domain.audit_chat import parse_witness_text
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.messages import Platform
from medcrypt.bot.domain.services import Services
from medcrypt.bot.outbox.worker import OutboxWorker
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.sandbox import FakeTwilio
from medcrypt.storage import migrate
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.models.outbox import OutboxMessage
from tests.support.whatsapp import sender_for

KEYRING = Keyring({1: os.urandom(32)})
ADMIN = "+15554200001"
CHECKPOINTS = 4
LEASE_SECONDS = 1.0
#: The senders' request timeout: a send starts only this long before its claim ends.
SEND_TIMEOUT = 0.2


def _worker(services: Services, tw: FakeTwilio) -> OutboxWorker:
    return OutboxWorker(services, {Platform.WHATSAPP: sender_for(tw, SEND_TIMEOUT)},
                        lease=timedelta(seconds=LEASE_SECONDS), send_timeout=SEND_TIMEOUT)


async def test_a_paused_replica_does_not_resend_a_witness_line_out_of_order(
        database_url: str) -> None:
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    environ = {"MEDCRYPT_AUDIT_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode(),
               "MEDCRYPT_ADMIN_WHATSAPP": ADMIN}
    services = build_services(parse_settings({}), SystemClock(), environ=environ,
                              keyring=KEYRING, engine=engine)
    # Each checkpoint queues its witness line to the admin in its own transaction.
    seqs = [services.audit.checkpoint_now().seq for _ in range(CHECKPOINTS)]
    assert seqs == sorted(set(seqs))
    sessions = session_factory(engine)
    async with FakeTwilio() as tw:
        tw.open_window(ADMIN)
        a, b = _worker(services, tw), _worker(services, tw)
        paused = a._claim(10)  # A claims the admin's head - the first line - and stops
        assert len(paused) == 1
        await asyncio.sleep(LEASE_SECONDS + 0.3)  # its claim expires while it is stopped
        await b.recover()  # in doubt, Twilio has no such message: due again
        while await b.run_once():  # B sends every line, one head at a time
            pass
        await asyncio.gather(*(a._send_one(d) for d in paused))  # A wakes
        while await b.run_once():  # whatever A gave back, if anything
            pass
        received = [w.seq for m in tw.messages_to(ADMIN) for w in parse_witness_text(m.body)]
        with sessions() as s:
            row = s.get(OutboxMessage, paused[0].row_id)
            assert row is not None and row.status == "sent"
    engine.dispose()
    assert received == seqs, f"the admin's chat shows checkpoints {received}"
