"""Per-platform send pacing shared by every replica, decided when the outbox claims.

Telegram asks a bot to stay under about 30 messages/s overall and Twilio queues beyond
an account's messages-per-second. Paced in memory, N replicas sent N times that
(issue 18). On PostgreSQL the worker reserves its claimed rows' sends in the platform's
GCRA row (:mod:`storage.repos.pacing`) inside the claim's own transaction: each granted
send carries the instant it may go, and rows whose slot lies beyond ``horizon`` are
given back, due again when their slot comes, with the attempt refunded. One process on
SQLite keeps the in-memory :class:`~bot.adapters.pacing.Pacer` instead (ADR 0038).

The slots are instants on the database server's clock, and every replica must send at
them on its own clock. Timing a slot from when the reservation's answer reached this
process shifted it by that answer's delay, which differs from claim to claim and replica
to replica (a slow round trip, a loaded host): sends evenly spaced on the server arrived
bunched, past rate + burst (issue 18's "Rates hold", measured by the sandbox). So each
replica maps the server's clock onto its own (:class:`ServerClock`), and a send that
still starts late - its process was descheduled - takes a new slot (:meth:`reserve_one`)
rather than going out on top of the next ones.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from medcrypt.bot.domain.messages import Platform
from medcrypt.bot.domain.sender import Delivery
from medcrypt.storage.db import Session, SessionFactory
from medcrypt.storage.repos import pacing

#: Pace this fraction below the platform's figure: its bucket and ours are not in step,
#: and network jitter can bunch sends that left here evenly spaced.
MARGIN = 0.9
#: Replicas sharing the pacing pace further below: their sends leave from several
#: processes, each of which a loaded host can hold back a little after its slot, and
#: the platform counts arrivals. Measured (ADR 0038 amendment 1): at 90 % three replicas
#: still reached rate + burst + 1 once in 13 runs on a loaded two-core host.
SHARED_MARGIN = 0.8


def burst_for(per_second: float) -> int:
    """The sends allowed back to back after a quiet spell: half a second's worth."""
    return max(1, int(per_second) // 2)


class ServerClock:
    """This process's view of the database server's clock, for sending at its instants.

    An instant ``t`` read on the server during a statement was, on this process's
    monotonic clock, at most ``after - t`` later (``after``: when the answer arrived
    here). The smallest such bound over recent answers is the tightest: it drops the
    answers that were delayed on the way (the server's clock is read after the row lock,
    so a wait for another replica's claim is not in it). Mapping with it sends at or
    just after the slot, never before. Recent answers only (a window of ``keep``), so
    the server's wall clock being stepped is followed within that many reservations.
    """

    def __init__(self, *, keep: int = 32,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._bounds: deque[float] = deque(maxlen=keep)
        self._monotonic = monotonic
        #: Claims and late sends' reservations observe from worker threads.
        self._lock = threading.Lock()

    def observe(self, server_instant: float) -> float:
        """Note an answer read now that carries ``server_instant``; return that instant
        on this process's monotonic clock."""
        bound = self._monotonic() - server_instant
        with self._lock:
            self._bounds.append(bound)
            return server_instant + min(self._bounds)


@dataclass(frozen=True, slots=True)
class Paced:
    """What one claim's reservation decided: each granted delivery with the monotonic
    instants (this process's clock) at which its platform messages may be sent - one per
    message, several for a notice split to fit the platform, none for an unpaced
    platform - and each delivery given back with the seconds until it may be tried
    again."""

    granted: list[tuple[Delivery, tuple[float, ...]]]
    refused: list[tuple[Delivery, float]]


class SharedPacing:
    """The platforms' configured rates (sends per second; 0 = unpaced) as GCRA rows."""

    def __init__(self, rates: Mapping[Platform, float], *, horizon: float,
                 clock: ServerClock | None = None) -> None:
        # Both the rate and the burst a margin below the platform's: three processes'
        # sends reach the platform with more jitter than one process's.
        self._paces = {p: (r * SHARED_MARGIN, max(1, int(burst_for(r) * SHARED_MARGIN)))
                       for p, r in rates.items() if r > 0}
        #: The longest a claimed row may wait for its slot (a fraction of its claim).
        self.horizon = horizon
        self.clock = clock or ServerClock()

    def reserve(self, session: Session, deliveries: Sequence[Delivery],
                sends: Callable[[Delivery], int] | None = None) -> Paced:
        """One statement per paced platform among ``deliveries``, in the claim order.

        ``sends(d)`` is how many platform messages ``d`` goes out as (a notice longer
        than the platform's limit is split, ``bot.domain.splitting``); each takes its
        own slot, so "rate + burst in every 1 s window" counts what the platform
        receives. A delivery is granted only with all its slots; one whose last slot
        lies past the horizon goes back whole (the slots it would have used stay
        spent: the pace errs slow, never fast).
        """
        by_platform: dict[Platform, list[Delivery]] = {}
        for d in deliveries:
            by_platform.setdefault(d.platform, []).append(d)
        granted: list[tuple[Delivery, tuple[float, ...]]] = []
        refused: list[tuple[Delivery, float]] = []
        for platform, group in by_platform.items():
            pace = self._paces.get(platform)
            if pace is None:
                granted += [(d, ()) for d in group]
                continue
            per_second, burst = pace
            counts = [max(1, sends(d)) if sends is not None else 1 for d in group]
            grant = pacing.reserve(session, platform.value, sum(counts),
                                   per_second=per_second, burst=burst, horizon=self.horizon)
            start = self.clock.observe(grant.answered)
            slots = [start + delay for delay in grant.delays]
            offset = 0
            for d, count in zip(group, counts, strict=True):
                if offset + count <= len(slots):
                    granted.append((d, tuple(slots[offset:offset + count])))
                else:
                    refused.append((d, grant.retry_in))
                offset += count
        return Paced(granted, refused)

    def late_after(self, platform: Platform) -> float:
        """How late (seconds) a send may start after its slot and still use it: one
        slot's length. Later, it would land among the next slots' sends."""
        pace = self._paces.get(platform)
        return float("inf") if pace is None else 1.0 / pace[0]

    def reserve_one(self, session: Session, platform: Platform,
                    horizon: float) -> tuple[float | None, float]:
        """A new slot for one send that missed its own: ``(instant, 0)`` on this
        process's monotonic clock, or ``(None, retry_in)`` when none is free within
        ``horizon`` seconds. Locks the platform's row until the caller commits."""
        pace = self._paces.get(platform)
        if pace is None:
            return 0.0, 0.0
        per_second, burst = pace
        grant = pacing.reserve(session, platform.value, 1, per_second=per_second,
                               burst=burst, horizon=horizon)
        if not grant.delays:
            return None, grant.retry_in
        return self.clock.observe(grant.answered) + grant.delays[0], 0.0

    async def take_one(self, sessions: SessionFactory, platform: Platform) -> float | None:
        """Reserve one slot in its own short transaction, off the event loop, and sleep
        until it comes: None once it has, or the seconds to retry in when no slot is free
        within the horizon (nothing waited). For a late outbox send and for a direct
        reply alike."""
        horizon = self.horizon

        def reserve() -> tuple[float | None, float]:
            with sessions.begin() as s:
                return self.reserve_one(s, platform, horizon)

        at, retry_in = await asyncio.to_thread(reserve)
        if at is None:
            return retry_in
        wait = at - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        return None


#: What an adapter awaits before each direct reply it sends itself (outside the outbox):
#: True once the reply's shared slot has come, False when none is free soon.
ReplySlot = Callable[[Platform], Awaitable[bool]]


class ReplySlots:
    """Direct replies - to a stranger, who has no identity row and so no outbox queue,
    or after an erasure - take the same shared slots as the outbox's sends.

    Paced per process they came on top of the clinic-wide rate (ADR 0038 amendment 2).
    One reservation per platform message, in its own short transaction off the event
    loop: a round trip and a commit per reply, which only replies that bypass the
    outbox pay (relayed traffic never does). A reply whose slot is not free within the
    pacing horizon is not sent (:meth:`wait` answers False): a flood of strangers must
    not hold a webhook answer, or the relayed messages queued behind it, for longer.
    """

    def __init__(self, pacing: SharedPacing, sessions: SessionFactory) -> None:
        self._pacing = pacing
        self._sessions = sessions

    async def wait(self, platform: Platform) -> bool:
        return await self._pacing.take_one(self._sessions, platform) is None
