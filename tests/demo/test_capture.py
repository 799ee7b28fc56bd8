"""Capture test: the full story with real companions, logs at DEBUG captured.

Every request the fakes received from the bot, the whole database file (and WAL) and
every log line must be free of the plaintexts the companions encrypted.
"""

from __future__ import annotations

import pytest

from medcrypt.demo import story as demo
from tests.support.demo import DemoRecord

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("demo")]


def test_nothing_but_tokens_reaches_platforms_database_or_logs(demo_run: DemoRecord) -> None:
    assert demo_run.status == 0, demo_run.transcript[-3000:]
    logs = demo_run.logs
    assert "bot_started" in logs  # the capture really saw the bot's logging
    markers = [demo.SECRET_NOTE, demo.PATIENT_NOTE, demo.LONG_NOTE[:40], "potassium",
               "HbA1c", demo.PLAINTEXT_SLIP, demo.PATIENT_NUMBER.lstrip("+")]
    assert demo_run.db and demo_run.requests  # the recording saw the server and the fakes
    for marker in markers:
        assert marker not in logs, marker
        assert marker.encode() not in demo_run.db, marker
    for marker in markers[:-1]:
        assert marker.encode() not in demo_run.requests, marker
