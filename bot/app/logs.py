"""Logging for the bot process: the shared redacting setup plus a UTC timestamp."""

from __future__ import annotations

import structlog

from medcrypt.bot.domain.config import Settings
from medcrypt.crypto.logsetup import configure_logging


def setup_logging(settings: Settings) -> None:
    fmt = settings.logging.format
    configure_logging(
        level=settings.logging.level,
        json=None if fmt == "auto" else fmt == "json",
        extra_processors=[structlog.processors.TimeStamper(fmt="iso", utc=True)],
    )
