"""Rates hold (issue 18): three real bot processes on one PostgreSQL keep each platform's
clinic-wide send rate within the configured rate + burst in every 1 s window.

Physicians on Telegram and patients on WhatsApp send a flood both ways at once, far
faster than the configured pacing; all three replicas drain the shared outbox. The
sandbox notes the arrival of every send request per platform
(``LoopbackServer.send_times``), and the worst 1 s window of each platform is compared
with rate + burst (the burst is half a second's worth: ``bot.outbox.pacing.burst_for``).
Each replica pacing on its own allowed about three times that.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from medcrypt.crypto.keyless.wire import Direction
from medcrypt.sandbox import FakeTelegram
from medcrypt.sandbox.fake_twilio import FakeTwilio
from tests.support.databases import migrated_postgres_database
from tests.support.ports import worker_port
from tests.support.replicas import pair, post_until_accepted, start_cluster
from tests.support.tokens import message_token

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.xdist_group("replicas")]

RATE = 10.0
#: Half a second's worth, as the bot derives it from the rate.
BURST = 5
#: Messages each way: several seconds of sending at RATE, so the window is sustained.
MESSAGES = 120
PAIRS = 10
SECTIONS: dict[str, dict[str, object]] = {
    "telegram": {"request_timeout_seconds": 2.0, "global_messages_per_second": RATE,
                 "poll_timeout_seconds": 25},
    "whatsapp": {"request_timeout_seconds": 2.0, "global_messages_per_second": RATE},
    "relay": {"outbox_lease_seconds": 6.0, "outbox_concurrency": 16,
              "user_messages_per_minute": 0, "outbox_base_backoff_seconds": 0.05,
              "outbox_max_backoff_seconds": 0.5, "v2_cutoff_date": "2100-01-01"},
}


@pytest.mark.timeout(300)
def test_three_replicas_keep_each_platforms_rate(tmp_path: Path) -> None:
    port0 = worker_port()
    with migrated_postgres_database() as url, FakeTelegram() as tg, FakeTwilio(
            webhook_url=f"http://127.0.0.1:{port0}/twilio/inbound") as tw:
        cluster = start_cluster(tmp_path, tg, tw, url, port0, **SECTIONS)
        try:
            physicians = [6_300_001 + i for i in range(PAIRS)]
            patients = [f"+1555320{i:04d}" for i in range(PAIRS)]
            pids = [os.urandom(16) for _ in range(PAIRS)]
            pair(cluster, physicians, patients, pids)
            base_tg = {d: len(tg.messages_to(d)) for d in physicians}
            base_wa = {p: len(tw.messages_to(p)) for p in patients}
            flood = time.monotonic()
            for i in range(MESSAGES):  # to WhatsApp: as fast as the fake app can type
                k = i % PAIRS
                tg.user_sends_text(physicians[k], message_token(
                    pids[k], Direction.PHYSICIAN_TO_PATIENT, index=2 * i))
            for i in range(MESSAGES):  # to Telegram: one webhook post after another
                k = i % PAIRS
                post_until_accepted(tw, patients[k], message_token(
                    pids[k], Direction.PATIENT_TO_PHYSICIAN, index=2 * i + 1), f"SM{i:032x}")

            def delivered() -> tuple[int, int]:
                return (sum(len(tg.messages_to(d)) - base_tg[d] for d in physicians),
                        sum(len(tw.messages_to(p)) - base_wa[p] for p in patients))

            deadline = time.monotonic() + 120
            while min(delivered()) < MESSAGES and time.monotonic() < deadline:
                time.sleep(0.1)
            assert min(delivered()) >= MESSAGES, delivered()
            elapsed = time.monotonic() - flood
        finally:
            cluster.stop()
        worst_tg = tg.worst_send_window(since=flood)
        worst_wa = tw.worst_send_window(since=flood)
        print(f"\n3 replicas, {MESSAGES} messages each way at {RATE:g}/s + burst {BURST}: "
              f"worst 1 s window Telegram {worst_tg}, WhatsApp {worst_wa}; "
              f"all delivered in {elapsed:.1f}s")
        assert worst_tg <= RATE + BURST, worst_tg
        assert worst_wa <= RATE + BURST, worst_wa
        # The pacing, not a stall: both platforms were sent to near their rate.
        assert min(worst_tg, worst_wa) >= RATE / 2
