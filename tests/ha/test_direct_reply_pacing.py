"""Direct replies take the shared pacing too (issue 18, "Rates hold"; ADR 0038
amendment 2): the clinic-wide Telegram rate stays within rate + burst while relayed
traffic drains and strangers' commands are answered at the same time.

A stranger has no identity row, so the bot answers them straight from the adapter
(``Outcome.direct_replies``), outside the outbox. Paced by a per-process pacer, those
answers came on top of the outbox's shared slots: one real bot on PostgreSQL, draining
a backlog to Telegram while strangers send ``/help``, put 9 sends into a second at
4/s + burst 2. The fake Bot API notes every send's arrival (``worst_send_window``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from medcrypt.crypto.keyless.wire import Direction
from medcrypt.sandbox import FakeTelegram
from medcrypt.sandbox.fake_twilio import FakeTwilio
from medcrypt.sandbox.tw_models import InboundResult
from tests.support.databases import migrated_postgres_database
from tests.support.ports import worker_port
from tests.support.replicas import Cluster, pair, post_until_accepted, start_cluster
from tests.support.tokens import message_token

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.xdist_group("replicas")]

#: Low enough that a loaded two-core host still sends at the pace, not below it.
RATE = 4.0
#: Half a second's worth, as the bot derives it from the rate.
BURST = 2
MESSAGES = 60
STRANGERS = 20
PAIRS = 5
SECTIONS: dict[str, dict[str, object]] = {
    "telegram": {"request_timeout_seconds": 2.0, "global_messages_per_second": RATE,
                 "poll_timeout_seconds": 25},
    "whatsapp": {"request_timeout_seconds": 2.0, "global_messages_per_second": 0},
    "relay": {"outbox_lease_seconds": 6.0, "outbox_concurrency": 16,
              "user_messages_per_minute": 0, "outbox_base_backoff_seconds": 0.05,
              "outbox_max_backoff_seconds": 0.5, "v2_cutoff_date": "2100-01-01"},
}


@dataclass
class Paired:
    """One bot replica on PostgreSQL with PAIRS physician (Telegram) / patient (WhatsApp)
    pairs, and the sandboxes it talks to."""

    cluster: Cluster
    tg: FakeTelegram
    tw: FakeTwilio
    physicians: list[int]
    patients: list[str]
    pids: list[bytes]


@contextlib.contextmanager
def paired_bot(tmp_path: Path, sections: dict[str, dict[str, object]],
               first_physician: int, patient_prefix: str) -> Iterator[Paired]:
    port0 = worker_port()
    with migrated_postgres_database() as url, FakeTelegram() as tg, FakeTwilio(
            webhook_url=f"http://127.0.0.1:{port0}/twilio/inbound") as tw:
        cluster = start_cluster(tmp_path, tg, tw, url, port0, count=1, **sections)
        try:
            physicians = [first_physician + i for i in range(PAIRS)]
            patients = [f"{patient_prefix}{i:04d}" for i in range(PAIRS)]
            pids = [os.urandom(16) for _ in range(PAIRS)]
            pair(cluster, physicians, patients, pids)
            yield Paired(cluster, tg, tw, physicians, patients, pids)
        finally:
            cluster.stop()


@pytest.mark.timeout(240)
def test_direct_replies_and_relayed_sends_share_the_rate(tmp_path: Path) -> None:
    with paired_bot(tmp_path, SECTIONS, 6_500_001, "+1555330") as bot:
        tg, tw = bot.tg, bot.tw
        base = {d: len(tg.messages_to(d)) for d in bot.physicians}
        strangers = [6_600_001 + i for i in range(STRANGERS)]
        flood = time.monotonic()
        for i in range(MESSAGES):  # a backlog to Telegram, through the outbox ...
            k = i % PAIRS
            post_until_accepted(tw, bot.patients[k], message_token(
                bot.pids[k], Direction.PATIENT_TO_PHYSICIAN, index=2 * i + 1), f"SM{i:032x}")
        for stranger in strangers:  # ... and, while it drains, strangers ask for help
            tg.user_sends_text(stranger, "/help")

        def relayed() -> int:
            return sum(len(tg.messages_to(d)) - base[d] for d in bot.physicians)

        deadline = time.monotonic() + 90
        while relayed() < MESSAGES and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2.0)  # the last replies' slots
        answered = sum(1 for s in strangers if tg.messages_to(s))
        got, worst = relayed(), tg.worst_send_window(since=flood)
    assert got >= MESSAGES, got
    print(f"\n1 replica on PostgreSQL, {MESSAGES} relayed + {STRANGERS} strangers' /help "
          f"at {RATE:g}/s + burst {BURST}: worst 1 s window {worst}; "
          f"{answered} strangers answered")
    assert worst <= RATE + BURST, worst
    # The replies shared the rate; they were not all dropped to make room.
    assert answered >= STRANGERS / 2, answered

#: Strangers (and relayed messages) per wave on the WhatsApp side.
WAVE = 4
WA_SECTIONS: dict[str, dict[str, object]] = {
    **SECTIONS,
    "telegram": {"request_timeout_seconds": 2.0, "global_messages_per_second": 0,
                 "poll_timeout_seconds": 25},
    "whatsapp": {"request_timeout_seconds": 2.0, "global_messages_per_second": RATE},
}


@pytest.mark.timeout(240)
def test_whatsapp_twiml_replies_and_relayed_sends_share_the_rate(tmp_path: Path) -> None:
    """The WhatsApp side: a stranger is answered inside the webhook's answer (TwiML),
    which Twilio sends and counts against the sender's rate like an API send. The fake
    Twilio notes both (``twiml_replies`` and the API's sends in ``send_times``); the
    worst second of the two together stays within rate + burst."""
    with paired_bot(tmp_path, WA_SECTIONS, 6_700_001, "+1555340") as bot:
        tg, tw = bot.tg, bot.tw
        base = {p: len(tw.messages_to(p)) for p in bot.patients}
        strangers = [f"+1555350{i:04d}" for i in range(STRANGERS)]
        flood = time.monotonic()

        def relayed() -> int:
            return sum(len(tw.messages_to(p)) - base[p] for p in bot.patients)

        def backlog(indexes: range) -> None:  # to WhatsApp, through the outbox
            for i in indexes:
                k = i % PAIRS
                tg.user_sends_text(bot.physicians[k], message_token(
                    bot.pids[k], Direction.PHYSICIAN_TO_PATIENT, index=2 * i))

        async def at_once(wave: list[str]) -> list[InboundResult]:
            return list(await asyncio.gather(*[
                tw.user_sends_whatsapp_async(s, "hola") for s in wave]))

        # Waves: a few relayed messages, then a few strangers at once (each webhook
        # answer waits for its reply's slot), while the earlier waves drain; then the
        # rest of the backlog. A reply whose slot lies past the pacing horizon (2 s
        # here) is dropped, so strangers who came after a full backlog would mostly
        # go unanswered: small waves keep both kinds of send in every second.
        answers: list[InboundResult] = []
        for w in range(0, STRANGERS, WAVE):
            backlog(range(w, w + WAVE))
            answers += tw.run_sync(at_once(strangers[w:w + WAVE]), timeout=60)
        backlog(range(STRANGERS, MESSAGES))
        deadline = time.monotonic() + 90
        while relayed() < MESSAGES and time.monotonic() < deadline:
            time.sleep(0.1)
        got, worst = relayed(), tw.worst_send_window(since=flood)
        replied = {to for to, _body in tw.twiml_replies}
    assert got >= MESSAGES, got
    assert all(a.http_status == 200 for a in answers), [a.http_status for a in answers]
    answered = sum(1 for s in strangers if f"whatsapp:{s}" in replied)
    print(f"\n1 replica on PostgreSQL, {MESSAGES} relayed to WhatsApp + {STRANGERS} "
          f"strangers answered by TwiML at {RATE:g}/s + burst {BURST}: worst 1 s window "
          f"{worst}; {answered} strangers answered")
    assert worst <= RATE + BURST, worst
    assert answered >= STRANGERS / 2, answered
