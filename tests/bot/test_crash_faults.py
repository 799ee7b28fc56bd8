"""Faults and hard kills: every message reaches its recipient, none is lost.

The bot runs as a real subprocess (tests/support/bot_process.py) against the threaded
fakes, which inject ~20% faults into every send (500s, dropped connections, timeouts, 429s).
The bot is killed with SIGKILL twice mid-run and restarted. Telegram inbound survives
because getUpdates offsets are only confirmed after processing; WhatsApp inbound is
re-posted with the same MessageSid until the bot answers, as Twilio does.

Exactly-once: no token may be missing. A kill can land between a platform's "OK" and the
outbox commit. For WhatsApp the bot asks Twilio's message list whether the send arrived;
Telegram offers no way to ask, so such a row is sent again and the recipient's companion
drops the repeat as a replay (same token, same message index). The test therefore asserts
(1) every token delivered, (2) nothing delivered that was not sent, and (3) repeats only
for rows in flight at a kill - at most kills x concurrency - and reports how many
occurred (docs/DELIVERY.md has the argument).
"""

from __future__ import annotations

import collections
import os
import time
from pathlib import Path

import pytest

from medcrypt.crypto.keyless.wire import Direction
from medcrypt.sandbox import FakeTelegram, Faults
from medcrypt.sandbox.fake_twilio import FakeTwilio
from tests.support.bot_process import BotProcess, bot_environ
from tests.support.ports import worker_port
from tests.support.rigs import sandbox_settings, write_config
from tests.support.tokens import accept_token, message_token, register_token

#: Messages per run. The issue asks for 5,000 (scripts/test.sh sets it); that took 158 s
#: on a quiet 2-core box with send pacing on, ~110 s without it (under load 4). A
#: developer's focused run defaults to 3,000. Set MEDCRYPT_FAULT_MESSAGES=5000 to run the
#: full count.
MESSAGES = int(os.environ.get("MEDCRYPT_FAULT_MESSAGES", "3000"))
PAIRS = 8
CONCURRENCY = 16


def _faults(methods: frozenset[str], seed: int) -> Faults:
    return Faults(error_rate=0.08, drop_rate=0.05, timeout_rate=0.01, rate_limit_rate=0.06,
                  hang_seconds=1.5, retry_after=1, seed=seed, methods=methods)


def _config(tmp: Path, tg: FakeTelegram, tw: FakeTwilio, port: int) -> Path:
    """The sandbox bot's config with short timeouts, many senders and no rate limit.

    No send pacing either: at Telegram's 30 messages/s the 2,500 sends to Telegram alone
    (plus the retries the faults cause) took over 100 s, and pacing has its own tests
    (tests/bot/test_delivery.py); this test is about faults and kills.
    """
    return write_config(tmp / "bot.toml", sandbox_settings(
        tg, tw, port, tmp / "bot.db", logging={"format": "json"},
        telegram={"request_timeout_seconds": 1.0, "global_messages_per_second": 0},
        whatsapp={"request_timeout_seconds": 1.0, "global_messages_per_second": 0},
        relay={"outbox_lease_seconds": 2.5, "outbox_concurrency": CONCURRENCY,
               "outbox_max_attempts": 1000, "user_messages_per_minute": 0}))


def _post_until_accepted(tw: FakeTwilio, number: str, text: str, sid: str) -> None:
    """Twilio's behaviour when the webhook is down: try the same MessageSid again."""
    for _ in range(400):
        r = tw.user_sends_whatsapp(number, text, message_sid=sid)
        if r.http_status in (200, 403):  # 403 = already accepted (replay)
            return
        time.sleep(0.05)
    raise AssertionError("webhook never accepted the message")


@pytest.mark.slow
def test_faults_and_two_sigkills_lose_nothing(tmp_path: Path) -> None:
    port = worker_port()
    with FakeTelegram() as tg, FakeTwilio(
            webhook_url=f"http://127.0.0.1:{port}/twilio/inbound") as tw:
        bot = BotProcess(_config(tmp_path, tg, tw, port), bot_environ(tg, tw),
                         tmp_path / "bot.log", port)
        bot.start()
        try:
            physicians = [6_000_001 + i for i in range(PAIRS)]
            patients = [f"+1555200{i:04d}" for i in range(PAIRS)]
            pids = [os.urandom(16) for _ in range(PAIRS)]
            for doc, pat, pid in zip(physicians, patients, pids, strict=True):
                tg.user_sends_text(doc, register_token(pid))
                tg.wait_for_messages(doc, 1, timeout=20)
                _post_until_accepted(tw, pat, accept_token(pid), "SM" + os.urandom(16).hex())
                tg.wait_for_messages(doc, 3, timeout=20)
                tw.wait_until(lambda p=pat: len(tw.messages_to(p)) >= 2, timeout=20)
            base_tg = {d: len(tg.messages_to(d)) for d in physicians}
            base_wa = {p: len(tw.messages_to(p)) for p in patients}

            tg.faults = _faults(frozenset({"sendMessage", "sendmessage"}), seed=1)
            tw.faults = _faults(frozenset({"Messages.create"}), seed=2)
            expected_tg: collections.Counter[str] = collections.Counter()
            expected_wa: collections.Counter[str] = collections.Counter()
            kill_at = {MESSAGES // 3, 2 * MESSAGES // 3}
            t0 = time.monotonic()
            for i in range(MESSAGES):
                k = i % PAIRS
                if i in kill_at:
                    bot.kill()
                    bot.start()
                if i % 2 == 0:  # physician on Telegram → patient on WhatsApp
                    tok = message_token(pids[k], Direction.PHYSICIAN_TO_PATIENT, index=i)
                    tg.user_sends_text(physicians[k], tok)
                    expected_wa[tok] += 1
                else:  # patient on WhatsApp → physician on Telegram
                    tok = message_token(pids[k], Direction.PATIENT_TO_PHYSICIAN, index=i)
                    _post_until_accepted(tw, patients[k], tok, f"SM{i:032x}")
                    expected_tg[tok] += 1

            def delivered() -> tuple[collections.Counter[str], collections.Counter[str]]:
                got_tg = collections.Counter(
                    m.text or "" for d in physicians for m in tg.messages_to(d)[base_tg[d]:])
                got_wa = collections.Counter(
                    m.body for p in patients for m in tw.messages_to(p)[base_wa[p]:]
                    if m.status in ("sent", "delivered"))
                return got_tg, got_wa

            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                got_tg, got_wa = delivered()
                if set(expected_tg) <= set(got_tg) and set(expected_wa) <= set(got_wa):
                    break
                time.sleep(0.1)
            elapsed = time.monotonic() - t0
            got_tg, got_wa = delivered()
            missing = (len(set(expected_tg) - set(got_tg)) + len(set(expected_wa) - set(got_wa)))
            if missing:
                import sqlite3

                con = sqlite3.connect(tmp_path / "bot.db")
                states = con.execute("SELECT status, payload_kind, count(*) FROM outbox "
                                     "GROUP BY status, payload_kind").fetchall()
                keys = con.execute("SELECT count(*) FROM inbound_keys").fetchone()
                con.close()
                lost_wa = sum(1 for t in expected_wa if t not in got_wa)
                raise AssertionError(f"{missing} never delivered ({lost_wa} to WhatsApp); "
                                     f"outbox {states}; inbound keys {keys}")
            invented = (set(got_tg) - set(expected_tg)) | (set(got_wa) - set(expected_wa))
            assert not invented, f"{len(invented)} messages nobody sent"
            wa_repeats = sum(c - 1 for c in got_wa.values())
            repeats = sum(c - 1 for c in got_tg.values()) + wa_repeats
            assert repeats <= bot.kills * CONCURRENCY, f"{repeats} repeats"
            # Whatever else a recipient saw must be a bot notice, never a token.
            print(f"\n{MESSAGES} messages, 20% faults, {bot.kills} SIGKILLs: "
                  f"all delivered in {elapsed:.1f}s; platform-level repeats: {repeats} "
                  f"({wa_repeats} on WhatsApp)")
        finally:
            bot.stop()
        log = (tmp_path / "bot.log").read_bytes()
        assert b"[MEDCRYPT:v2:" not in log
