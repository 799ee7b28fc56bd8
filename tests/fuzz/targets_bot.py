"""Fuzz targets for the bot's parsers and its whole inbound path.

``relay_text`` and ``relay_file`` push arbitrary input through the real intake (identity
resolution, idempotency key, header-only routing, parts, commands) on a SQLite database
with an active pairing, as a paired physician and a paired patient would. Anything but a
project error is a bug; so is a reply that quotes the input.
"""

from __future__ import annotations

import base64
import itertools
import os
import tempfile
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import medcrypt.bot.app.commands  # noqa: F401 - registers the chat commands, as the bot does
from medcrypt.bot.adapters.channels import parse_target
from medcrypt.bot.adapters.whatsapp_webhook import parse_form
from medcrypt.bot.app.wiring import build_services
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.messages import Document, Platform
from medcrypt.bot.relay.intake import Intake
from medcrypt.bot.relay.ratelimit import RateLimiter
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.crypto.keyless.wire import (
    Direction,
    Kind,
    encode_accept,
    encode_file_header,
    encode_register,
    encode_sealed_header,
    encode_token,
)
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import migrate
from medcrypt.storage.db import make_engine

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PID = bytes(range(16))
_counter = itertools.count()


@cache
def _intake() -> Intake:
    tmp = Path(tempfile.mkdtemp(prefix="medcrypt-fuzz-bot-"))
    url = f"sqlite:///{tmp / 'fuzz.db'}"
    migrate.upgrade(url)
    clock = FixedClock(NOW)
    settings = parse_settings({"relay": {"user_messages_per_minute": 0}})
    services = build_services(settings, clock, environ={}, engine=make_engine(url),
                              keyring=Keyring({1: os.urandom(32)}))
    services.warm()  # before the first intake transaction, as the bot does at start
    intake = Intake(services, RateLimiter(0, clock))
    expires = int(NOW.timestamp()) + 3600
    intake.accept(platform=Platform.TELEGRAM, address="1", dedupe_key="r",
                  text=encode_token(encode_register(PID, epoch_of(NOW), 7, expires)))
    intake.accept(platform=Platform.WHATSAPP, address="whatsapp:+15550000001", dedupe_key="a",
                  text=encode_token(encode_accept(PID, b"\x01" + bytes(96))))
    return intake


def _as_text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def relay_text(data: bytes) -> None:
    text = _as_text(data)
    out = _intake().accept(platform=Platform.TELEGRAM, address="1",
                           dedupe_key=f"f{next(_counter)}", text=text)
    if len(text) >= 12:
        assert all(text not in r for r in out.direct_replies)


def relay_file(data: bytes) -> None:
    _intake().accept(platform=Platform.WHATSAPP, address="whatsapp:+15550000001",
                     dedupe_key=f"g{next(_counter)}", document=Document(data))


def admin_target(data: bytes) -> None:
    parse_target(_as_text(data))


def twilio_form(data: bytes) -> None:
    parse_form(data, "application/x-www-form-urlencoded")


_MSG = encode_sealed_header(Kind.MESSAGE, PID, epoch=epoch_of(NOW),
                            direction=Direction.PHYSICIAN_TO_PATIENT, index=1,
                            nonce=bytes(24)) + bytes(40)

TARGETS = {
    "relay_text": (relay_text, [encode_token(_MSG).encode(), b"/status", b"/admin_add x",
                                b"hello", b"[MEDCRYPT:v2:AAAA]"]),
    "relay_file": (relay_file, [encode_file_header(PID, epoch_of(NOW),
                                                   Direction.PATIENT_TO_PHYSICIAN,
                                                   bytes(16)) + bytes(64), b"MCF2"]),
    "admin_target": (admin_target, [b"telegram:12345", b"whatsapp:+15551230000"]),
    "twilio_form": (twilio_form, [b"MessageSid=SM1&From=whatsapp%3A%2B1555&Body=x",
                                  base64.b64encode(b"x")]),
}
