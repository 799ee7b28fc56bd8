"""Third-party log records carry logger name, level and exception type - nothing else.

A pattern cannot recognise free text: a patient's words or name look like any other
words. So records from libraries' own loggers lose their message, arguments and
traceback, unless the logger is on the reviewed allow-list in bot/app/logs.py, whose
messages are still scrubbed by shape. The first test makes python-telegram-bot itself
write the record that leaked on 06f4938 ("Error while parsing updates! Received data
was ..." at CRITICAL), with the real ``Bot`` talking to the sandbox.
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from telegram import Bot

from medcrypt.bot.app.logs import LIBRARY_LOGGERS_ALLOWED, setup_logging
from medcrypt.bot.domain.config import parse_settings
from medcrypt.crypto.logsetup import configure_logging
from medcrypt.sandbox import FakeTelegram

NAME = "Anastasia Villalobos-Treviño"
TEXT = "the insulin pump alarms all night"
PHONE = "+525512345678"


def records(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


async def test_ptb_parse_failure_record_keeps_no_update_content(
        capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(parse_settings({"logging": {"format": "json"}}))
    async with FakeTelegram() as tg:
        tg.inject_raw_update({"message_id": 1, "date": 0, "text": TEXT,
                              "chat": {"id": 7, "type": "private", "first_name": NAME},
                              "from": {"id": 7, "first_name": NAME}})  # no is_bot
        async with Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url) as bot:
            with pytest.raises(TypeError):
                await bot.get_updates(timeout=0)
    out = capsys.readouterr().err
    critical = [{k: v for k, v in r.items() if k != "timestamp"}
                for r in records(out) if r.get("level") == "critical"]
    assert critical == [{"event": "library_log", "level": "critical",
                         "logger_name": "telegram.Bot", "exc_type": "TypeError"}]
    for secret in (NAME, "Anastasia", TEXT, "insulin", "Received data"):
        assert secret not in out


def test_unlisted_library_logger_loses_message_arguments_and_traceback() -> None:
    out = io.StringIO()
    configure_logging(level="INFO", json=True, stream=out)
    lib = logging.getLogger("somelib.client")
    lib.warning("delivered %s to %s", TEXT, NAME)
    try:
        raise ValueError(f"bad row ({NAME}, {PHONE})")
    except ValueError:
        lib.exception("insert failed for %s", NAME)
    got = records(out.getvalue())
    assert got == [
        {"event": "library_log", "level": "warning", "logger_name": "somelib.client"},
        {"event": "library_log", "level": "error", "logger_name": "somelib.client",
         "exc_type": "ValueError"},
    ]
    assert "Traceback" not in out.getvalue()


def test_allow_listed_logger_keeps_its_message_scrubbed_by_shape() -> None:
    out = io.StringIO()
    configure_logging(level="INFO", json=True, stream=out,
                      library_loggers_allowed=LIBRARY_LOGGERS_ALLOWED)
    logging.getLogger("apscheduler.scheduler").warning(
        "Run time of job %r was missed by %s", "rotation", "0:00:05")
    logging.getLogger("apscheduler.executors.default").warning("odd %s", PHONE)
    got = records(out.getvalue())
    assert got[0] == {"event": "library_log", "level": "warning",
                      "logger_name": "apscheduler.scheduler",
                      "detail": "Run time of job 'rotation' was missed by 0:00:05"}
    assert PHONE not in out.getvalue()


def test_a_child_of_an_allowed_logger_is_not_allowed() -> None:
    """``apscheduler.scheduler`` is reviewed; a logger below it is someone else's code."""
    out = io.StringIO()
    configure_logging(level="INFO", json=True, stream=out,
                      library_loggers_allowed=LIBRARY_LOGGERS_ALLOWED)
    logging.getLogger("apscheduler.scheduler.plugin").warning("hello %s", NAME)
    assert NAME not in out.getvalue()
    assert "hello" not in out.getvalue()


def test_every_allowed_logger_is_named_with_its_reason() -> None:
    assert LIBRARY_LOGGERS_ALLOWED, "the allow-list is reviewed, not absent"
    for name, reason in LIBRARY_LOGGERS_ALLOWED.items():
        assert name == name.strip() and "." in name
        assert len(reason) > 20, name
