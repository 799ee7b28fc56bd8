"""Capture test: the full story with real companions, logs at DEBUG captured.

Every request the fakes received from the bot, the whole database file (and WAL) and
every log line must be free of the plaintexts the companions encrypted.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from medcrypt.crypto.logsetup import configure_logging
from medcrypt.demo import story as demo
from medcrypt.demo.clinic import TravelClock, clinic_setup
from medcrypt.demo.month import START
from medcrypt.sandbox import FakeTelegram
from medcrypt.sandbox.fake_twilio import FakeTwilio
from tests.support.ports import worker_port


@pytest.mark.slow
async def test_nothing_but_tokens_reaches_platforms_database_or_logs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.StringIO()
    configure_logging(level="DEBUG", json=True, stream=buf)
    handler = logging.StreamHandler(buf)  # libraries' stdlib logs too (PTB, httpx, twilio)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.DEBUG)
    port = worker_port()
    clock = TravelClock(START)
    operator, escrow = await clinic_setup(clock)
    for key, value in operator.environ.items():  # as the demo story lends them
        monkeypatch.setenv(key, value)
    try:
        async with FakeTelegram() as tg, FakeTwilio(
                webhook_url=f"http://127.0.0.1:{port}/twilio/inbound",
                templates={demo.TEMPLATE_SID: "You have a new secure message."}) as tw:
            story = demo.Demo(tmp_path, tg, tw, port, clock=clock, operator=operator,
                              escrow=escrow, configure_logging=False)
            await story.run()  # report_leaks() asserts DB + both platforms' requests
            requests = tg.request_bytes() + tw.request_bytes()
    finally:
        logging.getLogger().removeHandler(handler)
    logs = buf.getvalue()
    assert "bot_started" in logs  # the capture really saw the bot's logging
    markers = [demo.SECRET_NOTE, demo.PATIENT_NOTE, demo.LONG_NOTE[:40], "potassium",
               "HbA1c", demo.PLAINTEXT_SLIP, demo.PATIENT_NUMBER.lstrip("+")]
    db = (tmp_path / "bot.db").read_bytes()
    for marker in markers:
        assert marker not in logs, marker
        assert marker.encode() not in db, marker
    for marker in markers[:-1]:
        assert marker.encode() not in requests, marker
