"""What ``medcrypt-bot run`` needs before it serves: a database it can write, at the
schema this code expects, and a Telegram Bot API that answers - each tried a bounded
number of times with doubling waits, each attempt logged.

A bot started together with its database server (one host booting, a container
orchestrator starting both) would otherwise fail the first connection and land in
systemd's restart loop; a bot that can never connect must still stop, with the one line
of :mod:`crypto.failures`, within a time that fits ``TimeoutStartSec``. Only failures
that can pass are retried: an unreachable or read-only database
(:class:`DatabaseUnavailable`) and an unreachable platform (:class:`TransportError`).
A rejected token, a bad URL or a schema this code does not know stop at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog

from medcrypt.bot.domain.config import Settings, StartupSettings
from medcrypt.crypto.errors import DatabaseUnavailable, StorageError, TransportError
from medcrypt.storage import migrate
from medcrypt.storage.db import display_url, make_engine, ping, write_probe

log = structlog.get_logger("bot.startup")

T = TypeVar("T")

#: What may pass by itself, and so is worth another attempt.
RETRYABLE: tuple[type[Exception], ...] = (DatabaseUnavailable, TransportError)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int
    backoff_seconds: float
    max_seconds: float

    @classmethod
    def of(cls, settings: StartupSettings) -> RetryPolicy:
        return cls(settings.attempts, settings.backoff_seconds, settings.max_seconds)


async def with_retries(target: str, attempt: Callable[[], Awaitable[T]], policy: RetryPolicy,
                       *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                       monotonic: Callable[[], float] = time.monotonic) -> T:
    """``attempt()`` until it succeeds, raises something not retryable, or the attempts or
    the waiting budget run out; the last failure is raised as it was."""
    waited_until = monotonic() + policy.max_seconds
    wait = policy.backoff_seconds
    for number in range(1, policy.attempts + 1):
        try:
            return await attempt()
        except RETRYABLE as exc:
            left = waited_until - monotonic()
            if number == policy.attempts or left <= 0:
                log.error("startup_gave_up", target=target, attempt=number,
                          attempts=policy.attempts, error=type(exc).__name__)
                raise
            pause = min(wait, left)
            log.warning("startup_retry", target=target, attempt=number,
                        attempts=policy.attempts, error=type(exc).__name__,
                        retry_in_seconds=round(pause, 3))
            await sleep(pause)
            wait *= 2
    raise AssertionError("unreachable: attempts is at least 1")  # pragma: no cover


def check_database(url: str) -> None:
    """Raise :class:`DatabaseUnavailable` unless the database answers and takes a write."""
    shown = display_url(url)
    engine = make_engine(url)
    try:
        reason = ping(engine)
        if reason is not None:
            raise DatabaseUnavailable(f"database {shown} unreachable ({reason})")
        reason = write_probe(engine)
        if reason is not None:
            raise DatabaseUnavailable(f"database {shown} does not take a write: read-only "
                                      f"or locked ({reason})")
    finally:
        engine.dispose()


def prepare_schema(settings: Settings) -> None:
    """Upgrade to head, or (``database.migrate_at_start = false``) refuse a schema behind."""
    url = settings.database_url
    if settings.database.migrate_at_start:
        migrate.upgrade(url)
        return
    at, head = migrate.current(url), migrate.head()
    if at != head:
        raise StorageError(f"database schema is at {at or 'empty'}, this version needs "
                           f"{head}: run `medcrypt-bot migrate`")


async def reach_database(settings: Settings, policy: RetryPolicy) -> None:
    """The database, writable and at the expected schema, or the one-line failure."""
    url = settings.database_url
    await with_retries("database", lambda: asyncio.to_thread(check_database, url), policy)
    await asyncio.to_thread(prepare_schema, settings)
