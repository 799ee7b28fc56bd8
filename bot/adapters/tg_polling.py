"""Telegram long polling with at-least-once semantics, and no input that can stop it.

Why not PTB's ``Updater``: it confirms a batch (by asking for the next offset) while
the previous batch may still be unprocessed, so a crash there loses messages. Here the
offset only moves past an update after its handling committed; after a crash Telegram
redelivers it and the idempotency key turns the repeat into a no-op.

What the loop survives, and how:

- Telegram unreachable or answering errors (or anything else a poll raises): logged
  by exception class, retried with backoff; after :data:`DOWN_AFTER_FAILURES` failures
  in a row the loop reports itself down (readiness), and up at the next good poll.
- An update PTB cannot parse (:mod:`.tg_updates`): confirmed, reported to
  ``on_unparseable`` (the bot audits its id) and skipped; the rest of the batch is
  handled. A batch item that is not an update at all is skipped with a log line.
- An update whose handling fails: not confirmed, retried, and skipped after
  :data:`MAX_UPDATE_ATTEMPTS` so a poison message cannot block every later one.
- 409 Conflict: another process is polling the same bot. That is not an outage - with
  leases (``bot.app.roles``) it means a poller outside the lease (a replica of an older
  version, an operator's script) - so it is logged as ``poll_conflict`` and counted,
  the loop stays up, and the next poll waits :data:`CONFLICT_PAUSE_S` instead of
  backing off further and further: two pollers must not take the poll from each other.
- The poller's lease lost while a batch was handled (``LeaseLost`` from the fenced
  intake): the rest of the batch is left unconfirmed for the new holder.
- Anything else ends :meth:`Poller.run` with the exception; the supervisor restarts it.

A batch holds up to 100 updates and the intake is synchronous (~4 ms each), so the loop
yields to the event loop every :data:`YIELD_EVERY` updates: the outbox worker (woken by
``on_accepted``) starts sending the first messages after at most that many intakes
instead of after the whole batch. Not after every update: each yield lets the worker
run a claim transaction, which costs ~1.6 ms plus ~0.3 ms per row (measured,
bench/bench_relay.py), so claiming row by row under a backlog added ~1.5 ms of CPU per
message and lowered throughput.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

import structlog
from telegram import Update
from telegram.error import Conflict
from telegram.error import RetryAfter as TgRetryAfter

from medcrypt.bot.adapters.tg_updates import NotAnUpdate, Unparseable
from medcrypt.storage.repos.leases import LeaseLost

log = structlog.get_logger("bot.telegram")

#: Times one update is retried after its handling failed before it is skipped.
MAX_UPDATE_ATTEMPTS = 5
#: Updates of one getUpdates batch handled between yields to the event loop.
YIELD_EVERY = 16
#: Failed polls in a row after which the loop reports itself down.
DOWN_AFTER_FAILURES = 3
#: Pause after a 409 Conflict (someone else polls) before asking again.
CONFLICT_PAUSE_S = 1.0

Item = Update | Unparseable | NotAnUpdate
Fetch = Callable[[int | None], Awaitable[Sequence[Item]]]


def retry_after_seconds(exc: TgRetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns about the int/timedelta transition
        warnings.simplefilter("ignore")
        value: int | timedelta = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Poller:
    def __init__(self, fetch: Fetch, handle: Callable[[Update], Awaitable[None]], *,
                 on_unparseable: Callable[[int], Awaitable[None]],
                 report: Callable[[bool, str], None],
                 retry_delay: float = 1.0) -> None:
        self._fetch = fetch
        self._handle = handle
        self._on_unparseable = on_unparseable
        self._report = report
        self._retry_delay = retry_delay
        self._attempts: dict[int, int] = {}
        #: 409 Conflict answers seen (another poller of the same bot).
        self.conflicts = 0

    async def run(self) -> None:
        offset: int | None = None
        failures = 0
        while True:
            try:
                batch = await self._fetch(offset)
            except TgRetryAfter as exc:
                await asyncio.sleep(retry_after_seconds(exc))
                continue
            except Conflict:
                self.conflicts += 1
                log.warning("poll_conflict", conflicts=self.conflicts)
                await asyncio.sleep(CONFLICT_PAUSE_S)
                continue
            except Exception as exc:  # TelegramError, NotAnUpdate, or a reply PTB chokes on
                failures += 1
                log.info("poll_failed", reason=type(exc).__name__)
                if failures >= DOWN_AFTER_FAILURES:
                    if failures == DOWN_AFTER_FAILURES:
                        log.warning("poll_failing", reason=type(exc).__name__)
                    self._report(False, f"poll_failing:{type(exc).__name__}")
                await asyncio.sleep(min(30.0, 0.2 * 2 ** min(failures, 8)))
                continue
            failures = 0
            self._report(True, "")
            done = await self._handle_batch(batch, offset)
            if batch and done == offset and all(isinstance(i, NotAnUpdate) for i in batch):
                await asyncio.sleep(self._retry_delay)  # nothing to confirm: do not spin
            offset = done

    async def _handle_batch(self, batch: Sequence[Item], offset: int | None) -> int | None:
        """Handle ``batch`` in order; return the offset that confirms what is done."""
        for handled, item in enumerate(batch, start=1):
            if isinstance(item, NotAnUpdate):
                log.warning("update_skipped", reason="not_an_update")
                continue
            if isinstance(item, Unparseable):
                log.warning("update_skipped", reason="unparseable")
                await self._on_unparseable(item.update_id)
                offset = max(offset or 0, item.update_id + 1)
                continue
            if not await self._handle_one(item):
                await asyncio.sleep(self._retry_delay)
                break  # not confirmed: Telegram delivers it (and what follows) again
            offset = max(offset or 0, item.update_id + 1)
            if handled % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let the worker send what was accepted
        return offset

    async def _handle_one(self, update: Update) -> bool:
        """True when the update is done with: handled, or skipped after its last try."""
        try:
            await self._handle(update)
        except LeaseLost:
            log.warning("poll_lease_lost")
            return False  # not confirmed, not counted: the new holder handles it
        except Exception as exc:
            attempts = self._attempts.get(update.update_id, 0) + 1
            self._attempts[update.update_id] = attempts
            log.error("update_failed", reason=type(exc).__name__, attempt=attempts)
            if attempts < MAX_UPDATE_ATTEMPTS:
                return False
            log.error("update_skipped", reason=type(exc).__name__)  # a poison update
        self._attempts.pop(update.update_id, None)
        return True
