"""Relay throughput and added latency, through the sandbox on loopback (SQLite).

* Sustained throughput: N tokens offered on one side as fast as the platform hands them
  over, time until the bot has *recorded* the last one as sent on the other side;
  Telegram → WhatsApp and WhatsApp → Telegram. Goal ≥ 300 messages/s (ten times the
  platforms' own send limits, so the bot is never the bottleneck).
* Added latency at a paced offered rate (default 100 messages/s, both directions
  interleaved): from inbound receipt - the moment the getUpdates answer reached the
  adapter, or the moment the Twilio webhook request reached the ASGI app - to the moment
  the adapter starts the outbound platform call. p50/p99. Goal p99 < 5 ms.
* Bot CPU per relayed message (process CPU time / messages): unlike wall-clock figures
  it hardly depends on what else runs on the machine.
* The garbage collector's share of that CPU (``gc.callbacks``), and how many objects the
  started bot froze out of its passes (bot/app/heap.py): full passes over the startup
  heap were most of what a larger bot cost per message (ADR 0045).
* Baseline, same run: one durable SQLite write (insert + commit) - the floor of any
  message the relay must not lose - so the ratios say how many commits' worth of work
  one relayed message costs.

By default the fake platforms run in a child process (``sandbox.remote``): they
are remote services in real life, and sharing the bot's event loop would charge their
work to the bot. ``--sandbox=inproc`` keeps the old single-loop mode for comparison.
Platform pacing is off in the bot and the fakes apply no rate limits unless
``--chat-limit R`` (R messages/s per chat, burst 3); ``--pairs`` conversations carry
the traffic, so per-chat pacing is not what is measured.
Run: ``python -m bench.run relay [--messages N] [--pairs P] [--sandbox process|inproc]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextvars
import gc
import inspect
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.harness import measure
from bench.senders import InstantSender
from medcrypt.bot.app.bot import BotApp
from medcrypt.bot.app.logs import setup_logging
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.messages import Platform
from medcrypt.bot.domain.sender import Delivery
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.crypto.keyless.wire import (
    Direction,
    Kind,
    encode_accept,
    encode_register,
    encode_sealed_header,
    encode_token,
)
from medcrypt.sandbox import FakeTelegram, RateLimits
from medcrypt.sandbox.fake_twilio import FakeTwilio
from medcrypt.sandbox.ops import SandboxOps
from medcrypt.sandbox.remote import RemoteSandbox
from medcrypt.storage.db import make_engine

#: When the message now being handled reached the bot (set per task by the probes).
RECEIVED: contextvars.ContextVar[float] = contextvars.ContextVar("received")


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _token(pid: bytes, direction: Direction, i: int) -> str:
    header = encode_sealed_header(Kind.MESSAGE, pid, epoch=epoch_of(datetime.now(UTC)),
                                  direction=direction, index=i, nonce=os.urandom(24))
    return encode_token(header + os.urandom(160))


class GcMeter:
    """CPU time the garbage collector spends, per generation, while installed: the
    collector's passes are charged to whatever code allocated last, so a profile hides
    them; ``gc.callbacks`` sees each pass start and end."""

    def __init__(self) -> None:
        self.passes = [0, 0, 0]
        self.cpu_s = [0.0, 0.0, 0.0]
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.process_time()
            return
        self.passes[info["generation"]] += 1
        self.cpu_s[info["generation"]] += time.process_time() - self._t0

    def __enter__(self) -> GcMeter:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _child_cpu(pid: int) -> float:
    """CPU seconds of the sandbox process (Linux /proc; NaN where unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Probe:
    """Receipt and outbound-call timestamps keyed by token text (benchmark-only seams:
    the Telegram adapter's ``_get_updates``, the webhook's ASGI app, ``intake.accept``
    and the worker's private sender map)."""

    def __init__(self, bot: BotApp) -> None:
        self.received: dict[str, float] = {}
        self.called: dict[str, float] = {}
        #: Per token: intake start/end and claim start/end, for the latency breakdown.
        self.stages: dict[str, list[float]] = {}
        accept = bot.intake.accept

        def timed_accept(**kw: Any) -> Any:
            start = time.perf_counter()
            outcome = accept(**kw)
            if kw.get("text"):
                self.received[kw["text"]] = RECEIVED.get(start)
                self.stages[kw["text"]] = [start, time.perf_counter()]
            return outcome

        bot.intake.accept = timed_accept  # type: ignore[method-assign]
        if bot.telegram is not None:
            get_updates = bot.telegram._get_updates

            async def timed_get_updates(offset: int | None) -> Any:
                updates = await get_updates(offset)
                RECEIVED.set(time.perf_counter())  # the whole batch arrived now
                return updates

            bot.telegram._get_updates = timed_get_updates  # type: ignore[method-assign]
        if bot.webhook is not None:
            inner = bot.webhook.app

            async def timed_app(scope: Any, receive: Any, send: Any) -> None:
                RECEIVED.set(time.perf_counter())
                await inner(scope, receive, send)

            bot.webhook.app = timed_app  # type: ignore[assignment]
        claim = bot.worker._claim

        def timed_claim(limit: int) -> list[Delivery]:
            start = time.perf_counter()
            deliveries = claim(limit)
            end = time.perf_counter()
            for d in deliveries:
                if d.body in self.stages:
                    self.stages[d.body] += [start, end]
            return deliveries

        bot.worker._claim = timed_claim  # type: ignore[method-assign]
        for sender in bot.worker._senders.values():
            send = sender.send

            async def timed_send(d: Delivery, _send: Any = send) -> str:
                self.called.setdefault(d.body, time.perf_counter())
                return str(await _send(d))

            sender.send = timed_send  # type: ignore[method-assign,assignment]

    def latencies_ms(self, tokens: list[str]) -> list[float]:
        return [(self.called[t] - self.received[t]) * 1000 for t in tokens]

    def breakdown_ms(self, tokens: list[str]) -> dict[str, tuple[float, float]]:
        """Median and p99 of each stage between receipt and the outbound call."""
        names = ("receipt -> intake start", "intake transaction", "commit -> claim start",
                 "claim transaction", "claim -> send call")
        spans: dict[str, list[float]] = {n: [] for n in names}
        for t in tokens:
            st = self.stages.get(t, [])
            if len(st) < 4:
                continue
            points = [self.received[t], st[0], st[1], st[-2], st[-1], self.called[t]]
            for name, a, b in zip(names, points, points[1:], strict=False):
                spans[name].append((b - a) * 1000)
        return {n: (statistics.median(v), statistics.quantiles(v, n=100)[98])
                for n, v in spans.items() if len(v) >= 2}


class LocalSandbox:
    """The in-process mode behind the same ``call`` interface as :class:`RemoteSandbox`."""

    def __init__(self, webhook_url: str, limits: RateLimits | None) -> None:
        self._tg = FakeTelegram(rate_limits=limits)
        self._tw = FakeTwilio(webhook_url=webhook_url)
        self.info: dict[str, Any] = {}
        self.pid = 0

    async def __aenter__(self) -> LocalSandbox:
        await self._tg.start()
        await self._tw.start()
        self._ops = SandboxOps(self._tg, self._tw)
        self.info = self._ops.info()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._tw.stop()
        await self._tg.stop()

    async def call(self, op: str, *args: Any) -> Any:
        result = getattr(self._ops, op)(*args)
        return await result if inspect.isawaitable(result) else result


def _refused(phase: str, statuses: list[int]) -> None:
    """Stop at once, saying why, if the bot did not take every webhook: Twilio does not
    retry a failed one, so the traffic could never drain (0: no answer at all)."""
    bad = collections.Counter(s for s in statuses if s != 200)
    if bad:
        raise RuntimeError(f"{phase}: webhooks not taken, by HTTP status: {dict(bad)}")


async def _wait(pred: Callable[[], bool], timeout: float = 300.0) -> None:
    """Poll every 10 ms: often enough for the throughput clock, rarely enough that the
    benchmark's own checking stays out of the bot's profile."""
    deadline = time.perf_counter() + timeout
    while not pred():
        if time.perf_counter() > deadline:
            raise TimeoutError("benchmark traffic did not drain")
        await asyncio.sleep(0.01)


async def _run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    port = _port()
    hook = f"http://127.0.0.1:{port}/twilio/inbound"
    limits = (RateLimits(per_chat_per_second=args.chat_limit, per_chat_burst=3,
                         global_per_second=1e9, global_burst=10**9)
              if args.chat_limit > 0 else None)
    sandbox: Any = (RemoteSandbox(webhook_url=hook, tg_rate_limits=limits)
                    if args.sandbox == "process" else LocalSandbox(hook, limits))
    async with sandbox as sb:
        info = sb.info
        settings = parse_settings({
            "database": {"url": f"sqlite:///{tmp / 'bench.db'}"},
            "logging": {"level": "WARNING"},
            # Pacing off: this measures the bot's own capacity, not the platforms' limits.
            "telegram": {"api_base_url": info["tg_base_url"],
                         "api_file_url": info["tg_file_url"], "poll_timeout_seconds": 1,
                         "global_messages_per_second": 0.0},
            "whatsapp": {"api_base_url": info["tw_url"], "listen_port": port,
                         "public_url": f"http://127.0.0.1:{port}",
                         "global_messages_per_second": 0.0},
            "relay": {"user_messages_per_minute": 0, "outbox_concurrency": 32},
            "monitoring": {"listen_port": 0},
        })
        setup_logging(settings)
        bot = BotApp(settings, environ={
            "MEDCRYPT_SERVER_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode(),
            "TELEGRAM_BOT_TOKEN": info["tg_token"],
            "TWILIO_ACCOUNT_SID": info["tw_account_sid"],
            "TWILIO_AUTH_TOKEN": info["tw_auth_token"],
            "TWILIO_WHATSAPP_FROM": info["tw_whatsapp_from"]})
        probe = Probe(bot)
        await bot.start()
        try:
            return await _traffic(args, bot, sb, probe)
        finally:
            await bot.stop()


async def _traffic(args: argparse.Namespace, bot: BotApp, sb: Any,
                   probe: Probe) -> dict[str, Any]:
    n, pairs = args.messages, args.pairs
    docs = [8_000_001 + i for i in range(pairs)]
    pats = [f"+1555{i:07d}" for i in range(pairs)]
    pids = [os.urandom(16) for _ in range(pairs)]
    expires = int(time.time()) + 3600
    epoch = epoch_of(datetime.now(UTC))
    await sb.call("user_sends_texts", [[d, encode_token(encode_register(pid, epoch, 7, expires))]
                                       for d, pid in zip(docs, pids, strict=True)])
    for d in docs:
        await sb.call("wait_tg", d, 1, 60)
    await sb.call("whatsapp_burst", [[p, encode_token(encode_accept(pid, b"\x01" +
                                                                    os.urandom(96)))]
                                     for p, pid in zip(pats, pids, strict=True)], 8)
    for d in docs:
        await sb.call("wait_tg", d, 3, 60)
    for p in pats:  # the platform warning and the confirmation: nothing left queued
        await sb.call("wait_tw", p, 2, 60)
    out: dict[str, Any] = {"pairs": pairs, "messages": n,
                           "frozen": gc.get_freeze_count()}

    async def burst(label: str, direction: Direction, op: str, who: list[Any],
                    *extra: Any) -> None:
        toks = [_token(pids[i % pairs], direction, i) for i in range(n)]
        before, cpu0, fake0 = bot.worker.sent, _cpu(), _child_cpu(sb.pid)
        t0 = time.perf_counter()
        with GcMeter() as meter:
            answers = await sb.call(op, [[who[i % pairs], t] for i, t in enumerate(toks)],
                                    *extra)
            _refused(label, answers if op == "whatsapp_burst" else [])
            await _wait(lambda: bot.worker.sent - before >= n)
        out[f"{label}_gc"] = (meter.passes[2], meter.cpu_s[2] * 1000 / n,
                              sum(meter.cpu_s) * 1000 / n)
        out[f"{label}_msgs_per_s"] = n / (time.perf_counter() - t0)
        out[f"{label}_cpu_ms"] = (_cpu() - cpu0) * 1000 / n
        out[f"{label}_fake_cpu_ms"] = (_child_cpu(sb.pid) - fake0) * 1000 / n
        out[f"{label}_sent"] = bot.worker.sent - before

    await burst("tg_to_wa", Direction.PHYSICIAN_TO_PATIENT, "user_sends_texts", docs)
    await burst("wa_to_tg", Direction.PATIENT_TO_PHYSICIAN, "whatsapp_burst", pats, 16)

    # Added latency at the paced rate, both directions interleaved.
    m = min(n, args.latency_messages)
    items: list[list[Any]] = []
    for i in range(m):
        k = i // 2 % pairs
        if i % 2:
            items.append(["wa", pats[k], _token(pids[k], Direction.PATIENT_TO_PHYSICIAN,
                                                10**6 + i)])
        else:
            items.append(["tg", docs[k], _token(pids[k], Direction.PHYSICIAN_TO_PATIENT,
                                                10**6 + i)])
    paced = await sb.call("paced", items, args.rate)
    _refused("paced", paced["statuses"])
    waiting = {it[2] for it in items}

    def drained() -> bool:
        waiting.difference_update([t for t in list(waiting)[:64] if t in probe.called])
        return not waiting

    await _wait(drained)
    out["offered_per_s"] = paced["offered_per_second"]
    for label, want in (("tg_to_wa", "tg"), ("wa_to_tg", "wa"), ("both", None)):
        lat = probe.latencies_ms([it[2] for it in items if want in (None, it[0])])
        q = statistics.quantiles(lat, n=100)
        out[f"lat_{label}"] = (statistics.median(lat), q[98], max(lat))
    out["breakdown"] = probe.breakdown_ms([it[2] for it in items])
    totals = await sb.call("totals")
    out["platform_totals"] = totals
    return out


def _bot_only(tmp: Path, messages: int, pairs: int) -> dict[str, float]:
    """The relay's own cost, no platforms: intake per message, and worker per row with a
    sender that returns at once (many chats, so claims batch as in production)."""
    settings = parse_settings({
        "database": {"url": f"sqlite:///{tmp / 'botonly.db'}"},
        "logging": {"level": "WARNING"},
        "telegram": {"enabled": False}, "whatsapp": {"enabled": False},
        "relay": {"user_messages_per_minute": 0, "outbox_concurrency": 64},
    })
    setup_logging(settings)
    bot = BotApp(settings, environ={
        "MEDCRYPT_SERVER_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode()})
    pids = [os.urandom(16) for _ in range(pairs)]
    expires = int(time.time()) + 3600
    for i, pid in enumerate(pids):
        bot.intake.accept(platform=Platform.TELEGRAM, address=str(8_000_001 + i),
                          dedupe_key=f"r{i}", text=encode_token(encode_register(
                              pid, epoch_of(datetime.now(UTC)), 7, expires)))
        bot.intake.accept(platform=Platform.WHATSAPP, address=f"whatsapp:+1555{i:07d}",
                          dedupe_key=f"a{i}",
                          text=encode_token(encode_accept(pid, b"\x01" + os.urandom(96))))
    toks = [_token(pids[i % pairs], Direction.PHYSICIAN_TO_PATIENT, i)
            for i in range(messages)]
    t0 = time.perf_counter()
    for i, t in enumerate(toks):
        bot.intake.accept(platform=Platform.TELEGRAM, address=str(8_000_001 + i % pairs),
                          dedupe_key=f"m{i}", text=t)
    intake_ms = (time.perf_counter() - t0) * 1000 / messages

    bot.worker._senders = {Platform.TELEGRAM: InstantSender(),
                           Platform.WHATSAPP: InstantSender()}

    async def drain() -> int:
        total = 0
        while k := await bot.worker.run_once():
            total += k
        return total

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


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench_relay")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--sandbox", choices=("process", "inproc"), default="process")
    parser.add_argument("--rate", type=float, default=100.0,
                        help="offered messages/s of the latency phase")
    parser.add_argument("--latency-messages", type=int, default=1000)
    parser.add_argument("--chat-limit", type=float, default=0.0,
                        help="fake platforms' per-chat limit, messages/s (0: none)")
    args, _ = parser.parse_known_args(argv)
    if args.messages < 100 or args.pairs < 1 or args.rate <= 0:
        parser.error("need --messages >= 100, --pairs >= 1 and --rate > 0")
    return args


def main(argv: list[str]) -> int:
    args = _parse(argv)
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="medcrypt-bench-relay-") as tmp:
        base_ms = _commit_baseline(Path(tmp))
        own = _bot_only(Path(tmp), args.messages, args.pairs)
        r = asyncio.run(_run(args, Path(tmp)))
    load1 = os.getloadavg()
    print(f"\n## relay through the sandbox (SQLite, loopback; fakes: {args.sandbox}, "
          f"{args.pairs} conversations, bot pacing off, platform per-chat limit "
          f"{args.chat_limit or 'none'})")
    print(f"load average before/after: {load0[0]:.2f} / {load1[0]:.2f} "
          f"({os.cpu_count()} cores)")
    print(f"baseline: one SQLite insert+commit         {base_ms:8.3f} ms")
    print("bot only (no platforms, no HTTP):")
    for key, label in (("intake_ms", "intake per inbound message"),
                       ("worker_ms", "worker claim+mark per outbound row")):
        print(f"  {label:<40} {own[key]:8.3f} ms  ({own[key] / base_ms:5.1f}x baseline; "
              f"{1000 / own[key]:6.0f}/s)")
    print(f"end to end, {r['messages']} messages each way (goal >= 300 msg/s):")
    for label in ("tg_to_wa", "wa_to_tg"):
        rate, cpu = r[f"{label}_msgs_per_s"], r[f"{label}_cpu_ms"]
        fake = r[f"{label}_fake_cpu_ms"]
        print(f"  {label:<10} {rate:8.0f} msg/s  bot CPU {cpu:6.2f} ms/msg "
              f"({cpu / base_ms:5.1f}x baseline), fakes {fake:5.2f} ms/msg; "
              f"recorded sent {r[f'{label}_sent']}")
    for label in ("tg_to_wa", "wa_to_tg"):
        full, full_ms, all_ms = r[f"{label}_gc"]
        print(f"  {label:<10} garbage collector {all_ms:5.2f} ms/msg of that CPU "
              f"({full} full passes, {full_ms:5.2f} ms/msg)")
    print(f"  objects the started bot froze out of the collector's passes: {r['frozen']}")
    print(f"added latency, receipt -> outbound call, offered {r['offered_per_s']:.0f} msg/s "
          "(goal p99 < 5 ms):")
    for label in ("tg_to_wa", "wa_to_tg", "both"):
        p50, p99, worst = r[f"lat_{label}"]
        print(f"  {label:<10} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  max {worst:7.2f} ms "
              f"(p99 = {p99 / base_ms:5.1f}x baseline)")
    print("  where it goes (median / p99 ms):")
    for name, (med, p99) in r["breakdown"].items():
        print(f"    {name:<26} {med:8.2f} / {p99:8.2f}")
    t = r["platform_totals"]
    print(f"platforms saw: telegram {t['tg_sent']} messages, twilio {t['tw_messages']} "
          f"messages and {t['tw_callbacks']} status callbacks")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
