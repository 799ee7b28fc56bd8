"""One run of ``medcrypt-bot demo``, recorded for every test that asserts on it.

The whole story takes about 20 s, so the suite runs it once (a session fixture in
tests/demo/conftest.py, its tests in one xdist group so one worker runs it) and keeps
everything a test may look at: what the command printed, its exit status, what the bot
and its libraries logged at DEBUG, the database file and its WAL at the end, and every
request both fake platforms received from the bot.

The run goes through the bot's own command line in this process (``main(["demo"])``),
so the transcript, the demo's own checks and its exit status are the product's. Two
substitutions: the story's ``Demo`` class is replaced by a subclass that keeps its
logging pointed at the recording (the command would set it to warnings on stderr) and
copies the server's and the platforms' bytes before the demo's temporary folder goes;
and the bot's webhook port comes from this worker's block (tests/support/ports.py), not
from the story's bind-and-close, which the other worker's port-0 servers could race.
"""

from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import dataclass
from typing import Any

import pytest
import structlog

from medcrypt.bot.cli import main as bot_main
from medcrypt.crypto.logsetup import configure_logging
from medcrypt.demo import story
from medcrypt.demo.checks import db_bytes
from tests.support.ports import worker_port

#: Variables that would point the demo at another configuration, database or clock.
FOREIGN_ENV = ("MEDCRYPT_CONFIG", "MEDCRYPT_NOW", "MEDCRYPT_HOME", "MEDCRYPT_DATABASE_URL")


@dataclass
class DemoRecord:
    status: int
    transcript: str
    logs: str = ""
    db: bytes = b""  # bot.db and its WAL when the story ended
    requests: bytes = b""  # every request the fake Telegram and Twilio received


def record_demo(*argv: str) -> DemoRecord:
    """Run ``medcrypt-bot demo ARGV`` in this process and record it."""
    record = DemoRecord(status=-1, transcript="")
    logs = io.StringIO()
    stdlib = logging.StreamHandler(logs)  # the libraries' own logs too (PTB, httpx, twilio)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    class RecordingDemo(story.Demo):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            configure_logging(level="DEBUG", json=True, stream=logs)
            root.addHandler(stdlib)
            root.setLevel(logging.DEBUG)
            super().__init__(*args, **{**kwargs, "configure_logging": False})

        async def run(self) -> None:
            try:
                await super().run()
            finally:
                record.db = db_bytes(self.root)
                record.requests = self.tg.request_bytes() + self.tw.request_bytes()

    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        for name in FOREIGN_ENV:
            mp.delenv(name, raising=False)
        mp.setattr(story, "Demo", RecordingDemo)
        mp.setattr(story, "_port", worker_port)
        try:
            record.status = bot_main(["demo", *argv])
        finally:
            structlog.reset_defaults()
            root.handlers[:] = handlers
            root.setLevel(level)
    record.transcript = out.getvalue()
    record.logs = logs.getvalue()
    return record
