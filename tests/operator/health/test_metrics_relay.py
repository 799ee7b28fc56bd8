"""/metrics scraped during a relay run: the counters match what was sent, and nothing in
the exposition names a person, a chat, a pairing or a token.

The bot is the real one between the sandbox fakes; the test is its Prometheus server,
scraping over HTTP while physician and patient write to each other, with a 429 from
each platform on the way and two messages the relay must refuse.
"""

from __future__ import annotations

import asyncio
import math
import os
from pathlib import Path

from medcrypt.bot.domain import notices
from medcrypt.crypto.keyless.wire import Direction
from tests.support.monitoring import Scrape, scrape
from tests.support.ports import worker_port
from tests.support.rigs import PATIENT_WA, PHYSICIAN_TG, Rig, live_bot, until
from tests.support.tokens import message_token, pair

ROUNDS = 3


def _exchange_counts(rig: Rig) -> tuple[int, int]:
    """What the platforms received from the bot: Telegram messages, WhatsApp messages."""
    return len(rig.tg.all_sent()), len(rig.tw.messages_to(PATIENT_WA))


def _assert_nothing_personal(result: Scrape, secrets: list[str], numbers: list[int]) -> None:
    labels = list(result.label_values())
    for secret in secrets:
        assert secret not in result.text, f"{secret[:6]}... in /metrics"
        assert not any(secret in value for value in labels)
    for number in numbers:
        assert not any(str(number) in value for value in labels)
        assert not any(s.value == number for s in result.samples)


async def test_metrics_count_a_relay_run_and_carry_no_personal_data(tmp_path: Path) -> None:
    port = worker_port()
    async with live_bot(tmp_path, monitoring={"listen_port": port,
                                              "probe_interval_seconds": 0.2}) as rig:
        pid = os.urandom(16)
        await pair(rig, pid)  # the accept token is relayed to the physician
        rig.tg.inject_429(PHYSICIAN_TG, retry_after=1, times=1)
        rig.tw.inject_429(f"whatsapp:{PATIENT_WA}", times=1)
        tokens: list[str] = []
        scrapes: list[Scrape] = []
        for i in range(ROUNDS):
            to_patient = message_token(pid, Direction.PHYSICIAN_TO_PATIENT, index=i)
            to_physician = message_token(pid, Direction.PATIENT_TO_PHYSICIAN, index=i)
            tokens += [to_patient, to_physician]
            rig.tg.user_sends_text(PHYSICIAN_TG, to_patient)
            r = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, to_physician)
            assert r.http_status == 200
            scrapes.append(await scrape(port))  # mid-run: sends may still be queued
        await until(lambda: all(t in rig.wa_texts() for t in tokens[0::2]), timeout=20)
        await until(lambda: all(t in rig.tg_texts(PHYSICIAN_TG) for t in tokens[1::2]),
                    timeout=20)
        # Two messages the relay must not carry: plain words in a paired chat, and a
        # token of a pairing it does not know.
        await rig.tg_says(PHYSICIAN_TG, "Sam's potassium is 5.9, call me",
                          expect=notices.PLAINTEXT_BLOCKED[:40])
        stranger = message_token(os.urandom(16), Direction.PHYSICIAN_TO_PATIENT)
        await rig.tg_says(PHYSICIAN_TG, stranger, expect=notices.UNKNOWN_PAIRING)

        # Settled: the probe saw an empty outbox, and the counted sends are exactly what
        # each platform received.
        final = await scrape(port)
        for _ in range(100):
            tg_sent, wa_sent = _exchange_counts(rig)
            if (final.value("medcrypt_outbox_backlog") == 0
                    and final.value("medcrypt_outbox_sends_total", platform="telegram",
                                    outcome="sent") == tg_sent
                    and final.value("medcrypt_outbox_sends_total", platform="whatsapp",
                                    outcome="sent") == wa_sent):
                break
            await asyncio.sleep(0.1)
            final = await scrape(port)
        else:
            raise AssertionError(f"sends counted {final.text!r} vs received "
                                 f"{_exchange_counts(rig)}")

        # Relayed: the accept token, and every token of the conversation - no more.
        assert final.value("medcrypt_messages_relayed_total", kind="token") == 1 + 2 * ROUNDS
        assert final.value("medcrypt_messages_relayed_total", kind="file") == 0
        assert final.value("medcrypt_messages_refused_total", reason="blocked_text") == 1
        assert final.value("medcrypt_messages_refused_total", reason="unknown_pairing") == 1
        refused = sum(s.value for s in final.samples
                      if s.name == "medcrypt_messages_refused_total")
        assert refused == 2
        # One 429 from each platform, counted per platform.
        for platform in ("telegram", "whatsapp"):
            assert final.value("medcrypt_outbox_sends_total", platform=platform,
                               outcome="rate_limited") == 1
            assert final.value("medcrypt_outbox_sends_total", platform=platform,
                               outcome="dead") == 0
        # The startup catch-up ran both jobs once.
        for job in ("rotation", "shred_sweep"):
            assert final.value("medcrypt_job_runs_total", job=job, trigger="startup",
                               outcome="ok") == 1
        assert final.value("medcrypt_audit_head_seq") >= 3  # started, paired, refused...
        assert math.isnan(final.value("medcrypt_audit_checkpoint_age_seconds")) or \
            final.value("medcrypt_audit_checkpoint_age_seconds") >= 0
        assert final.value("medcrypt_outbox_oldest_age_seconds") == 0
        assert final.value("medcrypt_breakglass_requests", status="pending") == 0
        assert final.value("medcrypt_platform_loop_up", loop="telegram") == 1
        assert final.value("medcrypt_platform_loop_up", loop="whatsapp") == 1
        # Counters only grow across the run.
        relayed = [s.value("medcrypt_messages_relayed_total", kind="token")
                   for s in [*scrapes, final]]
        assert relayed == sorted(relayed) and relayed[0] >= 1

        secrets = [*tokens, stranger, pid.hex(), pid.hex()[:8], PATIENT_WA,
                   PATIENT_WA.lstrip("+"), rig.tg.token, rig.tw.account_sid,
                   rig.tw.auth_token, rig.tw.whatsapp_from, "potassium"]
        secrets += [t.split(":", 2)[2].rstrip("]")[:24] for t in [*tokens, stranger]]
        for result in [*scrapes, final]:
            _assert_nothing_personal(result, secrets, [PHYSICIAN_TG])
