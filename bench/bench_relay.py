"""Relay throughput and added latency, through the sandbox on loopback (SQLite).

* Sustained throughput: N tokens queued on one side, time until the last one is sent on
  the other; Telegram → WhatsApp and WhatsApp → Telegram. Goal ≥ 300 messages/s (ten
  times the platforms' own send limits, so the bot is never the bottleneck).
* Added latency at 100 messages/s: from the moment the bot receives an inbound message
  (intake starts) to the moment the adapter makes the outbound platform call, p50/p99.
  Goal p99 < 5 ms. Polling delay and the platform's own HTTP time are excluded on
  purpose: they are not the bot's.
* Baseline, same run: one durable SQLite write (insert + commit) - the floor of any
  message the relay must not lose - so the ratios say how many commits' worth of work
  one relayed message costs.

Everything (fakes, bot, worker) shares one event loop and two cores, so absolute
figures are pessimistic. Run: ``python -m bench.run relay [--messages N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.harness import measure
from bot.app import BotApp
from bot.config import parse_settings
from bot.outbox.sender import Delivery
from bot.sandbox import FakeTelegram
from bot.sandbox.fake_twilio import FakeTwilio
from crypto.epochs import epoch_of
from crypto.wire import (
    Direction,
    Kind,
    encode_accept,
    encode_register,
    encode_sealed_header,
    encode_token,
)
from storage.db import make_engine

#: Conversations the traffic is spread over. Per chat the relay is strictly ordered (and
#: the platforms allow ~1 msg/s per Telegram chat), so throughput is a many-chat figure.
PAIRS = 20
DOCS = [8_000_001 + i for i in range(PAIRS)]
PATS = [f"+1555800{i:04d}" for i in range(PAIRS)]


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _token(pid: bytes, direction: Direction, i: int) -> str:
    from datetime import UTC, datetime

    header = encode_sealed_header(Kind.MESSAGE, pid, epoch=epoch_of(datetime.now(UTC)),
                                  direction=direction, index=i, nonce=os.urandom(24))
    return encode_token(header + os.urandom(160))


class Probe:
    """Timestamps of inbound receipt and outbound call, keyed by token text."""

    def __init__(self, bot: BotApp) -> None:
        self.received: dict[str, float] = {}
        self.called: dict[str, float] = {}
        accept = bot.intake.accept

        def timed_accept(**kw: Any) -> Any:
            if kw.get("text"):
                self.received[kw["text"]] = time.perf_counter()
            return accept(**kw)

        bot.intake.accept = timed_accept  # type: ignore[method-assign]
        for sender in bot.worker._senders.values():  # benchmark probe on a private map
            send = sender.send

            async def timed_send(d: Delivery, _send: Any = send) -> str:
                self.called.setdefault(d.body, time.perf_counter())
                return str(await _send(d))

            sender.send = timed_send  # type: ignore[method-assign,assignment]


async def _run(messages: int, tmp: Path) -> dict[str, float]:
    port = _port()
    async with FakeTelegram() as tg, FakeTwilio(
            webhook_url=f"http://127.0.0.1:{port}/twilio/inbound") as tw:
        settings = parse_settings({
            "database": {"url": f"sqlite:///{tmp / 'bench.db'}"},
            "logging": {"level": "WARNING"},
            # Pacing off: this measures the bot's own capacity, not the platforms' limits.
            "telegram": {"api_base_url": tg.base_url, "api_file_url": tg.base_file_url,
                         "poll_timeout_seconds": 1, "global_messages_per_second": 0.0},
            "whatsapp": {"api_base_url": tw.api_base_url, "listen_port": port,
                         "public_url": f"http://127.0.0.1:{port}",
                         "global_messages_per_second": 0.0},
            "relay": {"user_messages_per_minute": 0, "outbox_concurrency": 32},
        })
        env = {"MEDCRYPT_SERVER_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode(),
               "TELEGRAM_BOT_TOKEN": tg.token, "TWILIO_ACCOUNT_SID": tw.account_sid,
               "TWILIO_AUTH_TOKEN": tw.auth_token, "TWILIO_WHATSAPP_FROM": tw.whatsapp_from}
        from bot.logs import setup_logging

        setup_logging(settings)
        bot = BotApp(settings, environ=env)
        await bot.start()
        try:
            from datetime import UTC, datetime

            pids = [os.urandom(16) for _ in range(PAIRS)]
            expires = int(time.time()) + 3600
            for doc, pat, pid in zip(DOCS, PATS, pids, strict=True):
                tg.user_sends_text(doc, encode_token(encode_register(
                    pid, epoch_of(datetime.now(UTC)), 7, expires)))
                await tg.wait_for_messages_async(doc, 1, timeout=20)
                await tw.user_sends_whatsapp_async(pat, encode_token(
                    encode_accept(pid, b"\x01" + os.urandom(96))))
                await tg.wait_for_messages_async(doc, 3, timeout=20)
            probe = Probe(bot)
            out: dict[str, float] = {}

            # Throughput, Telegram → WhatsApp.
            toks = [_token(pids[i % PAIRS], Direction.PHYSICIAN_TO_PATIENT, i)
                    for i in range(messages)]
            t0 = time.perf_counter()
            for i, t in enumerate(toks):
                tg.user_sends_text(DOCS[i % PAIRS], t)
            await _wait(lambda: all(t in probe.called for t in toks))
            out["tg_to_wa_msgs_per_s"] = messages / (time.perf_counter() - t0)

            # Throughput, WhatsApp → Telegram (webhooks posted 16 at a time).
            toks = [_token(pids[i % PAIRS], Direction.PATIENT_TO_PHYSICIAN, i)
                    for i in range(messages)]
            sem = asyncio.Semaphore(16)

            async def post(i: int, t: str) -> None:
                async with sem:
                    await tw.user_sends_whatsapp_async(PATS[i % PAIRS], t)

            t0 = time.perf_counter()
            await asyncio.gather(*(post(i, t) for i, t in enumerate(toks)))
            await _wait(lambda: all(t in probe.called for t in toks))
            out["wa_to_tg_msgs_per_s"] = messages / (time.perf_counter() - t0)

            # Added latency at 100 messages/s, both directions interleaved.
            lat: list[float] = []
            paced = [_token(pids[i % PAIRS], Direction.PHYSICIAN_TO_PATIENT, 10**6 + i)
                     for i in range(min(messages, 1000))]
            start = time.perf_counter()
            for i, t in enumerate(paced):
                delay = start + i / 100 - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tg.user_sends_text(DOCS[i % PAIRS], t)
            await _wait(lambda: all(t in probe.called for t in paced))
            lat = [(probe.called[t] - probe.received[t]) * 1000 for t in paced]
            q = statistics.quantiles(lat, n=100)
            out["latency_p50_ms"] = statistics.median(lat)
            out["latency_p99_ms"] = q[98]
            return out
        finally:
            await bot.stop()


async def _wait(pred: Any, timeout: float = 300.0) -> None:
    deadline = time.perf_counter() + timeout
    while not pred():
        if time.perf_counter() > deadline:
            raise TimeoutError("benchmark traffic did not drain")
        await asyncio.sleep(0.005)


def _bot_only(tmp: Path, messages: int) -> dict[str, float]:
    """The relay's own cost, no platforms: intake per message, and worker per row with a
    sender that returns at once (many chats, so claims batch as in production)."""
    from datetime import UTC, datetime

    from bot.messages import Platform

    settings = parse_settings({
        "database": {"url": f"sqlite:///{tmp / 'botonly.db'}"},
        "logging": {"level": "WARNING"},
        "telegram": {"enabled": False}, "whatsapp": {"enabled": False},
        "relay": {"user_messages_per_minute": 0, "outbox_concurrency": 64},
    })
    bot = BotApp(settings, environ={
        "MEDCRYPT_SERVER_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode()})
    pids = [os.urandom(16) for _ in range(PAIRS)]
    expires = int(time.time()) + 3600
    for i, pid in enumerate(pids):
        bot.intake.accept(platform=Platform.TELEGRAM, address=str(DOCS[i]), dedupe_key=f"r{i}",
                          text=encode_token(encode_register(
                              pid, epoch_of(datetime.now(UTC)), 7, expires)))
        bot.intake.accept(platform=Platform.WHATSAPP, address=f"whatsapp:{PATS[i]}",
                          dedupe_key=f"a{i}",
                          text=encode_token(encode_accept(pid, b"\x01" + os.urandom(96))))
    toks = [_token(pids[i % PAIRS], Direction.PHYSICIAN_TO_PATIENT, i)
            for i in range(messages)]
    t0 = time.perf_counter()
    for i, t in enumerate(toks):
        bot.intake.accept(platform=Platform.TELEGRAM, address=str(DOCS[i % PAIRS]),
                          dedupe_key=f"m{i}", text=t)
    intake_ms = (time.perf_counter() - t0) * 1000 / messages

    class Instant:
        async def send(self, d: Delivery) -> str:
            return "SM" + os.urandom(8).hex()

        async def lookup(self, d: Delivery, since: float) -> None:
            return None

    bot.worker._senders = {Platform.TELEGRAM: Instant(), Platform.WHATSAPP: Instant()}

    async def drain() -> int:
        n = 0
        while True:
            k = await bot.worker.run_once()
            if not k:
                return n
            n += k

    t0 = time.perf_counter()
    rows = asyncio.run(drain())
    worker_ms = (time.perf_counter() - t0) * 1000 / max(rows, 1)
    bot.engine.dispose()
    return {"intake_ms": intake_ms, "worker_ms": worker_ms}


def _commit_baseline(tmp: Path) -> float:
    engine = make_engine(f"sqlite:///{tmp / 'base.db'}")
    with engine.begin() as c:
        c.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)"))
    blob = os.urandom(200)

    def one() -> None:
        with engine.begin() as c:
            c.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": blob})

    m = measure("sqlite insert+commit (baseline)", one, number=200, repeat=5)
    engine.dispose()
    return m.per_op_us / 1000


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_relay")
    parser.add_argument("--messages", type=int, default=2000)
    args, _ = parser.parse_known_args([a for a in argv if a.startswith("--")])
    with tempfile.TemporaryDirectory(prefix="medcrypt-bench-relay-") as tmp:
        base_ms = _commit_baseline(Path(tmp))
        own = _bot_only(Path(tmp), args.messages)
        r = asyncio.run(_run(args.messages, Path(tmp)))
    print("\n## relay through the sandbox (SQLite, loopback, one event loop)")
    print(f"baseline: one SQLite insert+commit         {base_ms:8.3f} ms")
    print("bot only (no platforms, no HTTP):")
    for key, label in (("intake_ms", "intake per inbound message"),
                       ("worker_ms", "worker claim+mark per outbound row")):
        print(f"  {label:<40} {own[key]:8.3f} ms  ({own[key] / base_ms:5.1f}x baseline; "
              f"{1000 / own[key]:6.0f}/s)")
    print("end to end through the in-process sandbox fakes:")
    for key in ("tg_to_wa_msgs_per_s", "wa_to_tg_msgs_per_s"):
        per_msg_ms = 1000 / r[key]
        print(f"{key:<42} {r[key]:8.0f} msg/s  ({per_msg_ms / base_ms:5.1f}x baseline "
              "per message; goal >= 300 msg/s)")
    for key in ("latency_p50_ms", "latency_p99_ms"):
        print(f"{key:<42} {r[key]:8.2f} ms     ({r[key] / base_ms:5.1f}x baseline; "
              "goal p99 < 5 ms)")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
