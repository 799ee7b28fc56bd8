"""No HTTP endpoint of the bot reads a body past its configured cap.

The attack (issue 12, item 5): one unsigned 400 MB POST to the Twilio webhook. On
06f4938 the bot read the whole body into memory before it checked the signature
(122 MB -> 923 MB) and only then answered 403. The bot here runs as its own process on
the sandbox, so its peak resident set (``VmHWM``) is its own; the test client streams
the body from one reused buffer, so the test process does not hold it either.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from medcrypt.sandbox import FakeTelegram
from medcrypt.sandbox.fake_twilio import FakeTwilio
from tests.support.bot_process import BotProcess, bot_environ
from tests.support.ports import worker_port
from tests.support.rigs import Rig, live_bot

MIB = 1024 * 1024
ATTACK_BYTES = 400 * MIB
#: What the bot may grow by while refusing it. Reading it whole grew it by ~800 MiB.
GROWTH_BOUND = 48 * MIB


def _body(total: int, chunk: int = MIB) -> Iterator[bytes]:
    block = b"A" * chunk  # one buffer, sent again and again: the client holds 1 MiB
    sent = 0
    while sent < total:
        yield block[: min(chunk, total - sent)]
        sent += chunk


def _config(tmp: Path, tg: FakeTelegram, tw: FakeTwilio, port: int) -> Path:
    cfg = tmp / "bot.toml"
    cfg.write_text(f"""
[database]
url = "sqlite:///{tmp / 'bot.db'}"
[logging]
format = "json"
[telegram]
api_base_url = "{tg.base_url}"
api_file_url = "{tg.base_file_url}"
poll_timeout_seconds = 1
request_timeout_seconds = 1.0
[whatsapp]
api_base_url = "{tw.api_base_url}"
public_url = "http://127.0.0.1:{port}"
listen_port = {port}
request_timeout_seconds = 1.0
[monitoring]
listen_port = 0
""")
    return cfg


def _attack(url: str, *, declared: bool) -> tuple[int | None, float]:
    """Send the 400 MB, chunked or with its Content-Length; (status, seconds)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}
    if declared:
        headers["Content-Length"] = str(ATTACK_BYTES)
    start = time.monotonic()
    try:
        with httpx.Client(timeout=120) as client:
            status: int | None = client.post(url, content=_body(ATTACK_BYTES),
                                             headers=headers).status_code
    except httpx.TransportError:
        status = None  # the server hung up without an answer
    return status, time.monotonic() - start


def test_400_mb_unsigned_post_to_the_twilio_webhook_gets_413_in_bounded_memory(
        tmp_path: Path) -> None:
    port = worker_port()
    with FakeTelegram() as tg, FakeTwilio(
            webhook_url=f"http://127.0.0.1:{port}/twilio/inbound") as tw:
        bot = BotProcess(_config(tmp_path, tg, tw, port), bot_environ(tg, tw),
                         tmp_path / "bot.log", port)
        t0 = time.monotonic()
        bot.start()
        try:
            time.sleep(1.0)  # let start-up (migrations, first poll) reach its peak
            for declared in (True, False):
                before = bot.peak_rss_bytes()
                status, seconds = _attack(f"http://127.0.0.1:{port}/twilio/inbound",
                                          declared=declared)
                after = bot.peak_rss_bytes()
                how = "declared" if declared else "chunked"
                print(f"\nbot peak RSS {before / MIB:.0f} MiB -> {after / MIB:.0f} MiB "
                      f"for a {ATTACK_BYTES // MIB} MiB POST ({how}), answered {status} "
                      f"in {seconds:.2f} s")
                assert status == 413, how
                assert after - before < GROWTH_BOUND, how
            # Still serving: a genuine signed message goes through afterwards.
            assert tw.user_sends_whatsapp("+15551239999", "/start").http_status == 200
        finally:
            bot.stop()
        print(f"whole test {time.monotonic() - t0:.1f} s")
        assert "Traceback" not in (tmp_path / "bot.log").read_text()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    port = worker_port()
    async with live_bot(tmp_path, environ={"TELEGRAM_WEBHOOK_SECRET": "edge-Secret_1"},
                        telegram={"mode": "webhook", "listen_port": port,
                                  "webhook_url": f"https://127.0.0.1:{port}/telegram"}
                        ) as running:
        yield running


async def test_every_endpoint_answers_413_over_its_default_cap(rig: Rig) -> None:
    """2 MiB is over both default caps; each endpoint refuses it before reading it."""
    wa = rig.bot.settings.whatsapp
    tg = rig.bot.settings.telegram
    over = b"x" * (2 * MIB)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    async with httpx.AsyncClient() as client:
        for path in (wa.inbound_path, wa.status_path):  # unsigned: no secret work first
            r = await client.post(wa.public_url + path, content=over, headers=form)
            assert r.status_code == 413, path
        r = await client.request("GET", f"{wa.public_url}{wa.media_path}/x", content=over)
        assert r.status_code == 413
        r = await client.post(f"http://127.0.0.1:{tg.listen_port}/telegram", content=over,
                              headers={"X-Telegram-Bot-Api-Secret-Token": "edge-Secret_1"})
        assert r.status_code == 413
