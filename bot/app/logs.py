"""Logging for the bot process: the shared redacting setup plus a UTC timestamp.

Library records (stdlib :mod:`logging`) keep only logger name, level and exception
type (:mod:`crypto.logsetup`), except for the loggers below. Each was reviewed: every
message it can write at WARNING or above (the lowest level libraries are let through)
was read in the pinned library's source, and none can quote a message, a name, a
number or a token. A logger is allowed by its exact name, never with its children.
Not allowed, and why: ``telegram.*`` (logs raw update batches), ``httpx``/``aiohttp``
(request URLs hold the bot token), ``twilio.*`` (request bodies and numbers),
``uvicorn.error`` (can quote values an application returned; the bot logs its own
listener failures), ``sqlalchemy.*`` (statement parameters).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import structlog

from medcrypt.bot.domain.config import Settings
from medcrypt.crypto.logsetup import configure_logging

#: Library loggers whose messages are kept (scrubbed by shape), with the review's reason.
LIBRARY_LOGGERS_ALLOWED: Mapping[str, str] = MappingProxyType({
    "apscheduler.scheduler": (
        "misfires and executor errors of the rotation and shred jobs; messages name the "
        "job (its id, name and trigger, all fixed by bot/scheduler) and a time span"),
    "apscheduler.executors.default": (
        "'Run time of job ... was missed by ...' and 'Job ... raised an exception': the "
        "job's fixed name and trigger; the exception itself is reduced to its type"),
})


def setup_logging(settings: Settings) -> None:
    fmt = settings.logging.format
    configure_logging(
        level=settings.logging.level,
        json=None if fmt == "auto" else fmt == "json",
        extra_processors=[structlog.processors.TimeStamper(fmt="iso", utc=True)],
        library_loggers_allowed=LIBRARY_LOGGERS_ALLOWED,
    )
