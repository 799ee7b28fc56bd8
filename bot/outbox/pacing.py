"""Per-platform send pacing shared by every replica, decided when the outbox claims.

Telegram asks a bot to stay under about 30 messages/s overall and Twilio queues beyond
an account's messages-per-second. Paced in memory, N replicas sent N times that
(issue 18). On PostgreSQL the worker reserves its claimed rows' sends in the platform's
GCRA row (:mod:`storage.repos.pacing`) inside the claim's own transaction: each granted
send carries the instant it may go, and rows whose slot lies beyond ``horizon`` are
given back, due again when their slot comes, with the attempt refunded. One process on
SQLite keeps the in-memory :class:`~bot.adapters.pacing.Pacer` instead (ADR 0038).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from medcrypt.bot.domain.messages import Platform
from medcrypt.bot.domain.sender import Delivery
from medcrypt.storage.db import Session
from medcrypt.storage.repos import pacing

#: Pace this fraction below the platform's figure: its bucket and ours are not in step,
#: and network jitter can bunch sends that left here evenly spaced.
MARGIN = 0.9


def burst_for(per_second: float) -> int:
    """The sends allowed back to back after a quiet spell: half a second's worth."""
    return max(1, int(per_second) // 2)


@dataclass(frozen=True, slots=True)
class Paced:
    """What one claim's reservation decided: each granted delivery with the seconds to
    wait before sending it, and each delivery given back with when to try it again."""

    granted: list[tuple[Delivery, float]]
    refused: list[tuple[Delivery, float]]


class SharedPacing:
    """The platforms' configured rates (sends per second; 0 = unpaced) as GCRA rows."""

    def __init__(self, rates: Mapping[Platform, float], *, horizon: float) -> None:
        # Both the rate and the burst a margin below the platform's: three processes'
        # sends reach the platform with more jitter than one process's.
        self._paces = {p: (r * MARGIN, max(1, int(burst_for(r) * MARGIN)))
                       for p, r in rates.items() if r > 0}
        #: The longest a claimed row may wait for its slot (a fraction of its claim).
        self.horizon = horizon

    def reserve(self, session: Session, deliveries: Sequence[Delivery]) -> Paced:
        """One statement per paced platform among ``deliveries``, in the claim order."""
        by_platform: dict[Platform, list[Delivery]] = {}
        for d in deliveries:
            by_platform.setdefault(d.platform, []).append(d)
        granted: list[tuple[Delivery, float]] = []
        refused: list[tuple[Delivery, float]] = []
        for platform, group in by_platform.items():
            pace = self._paces.get(platform)
            if pace is None:
                granted += [(d, 0.0) for d in group]
                continue
            per_second, burst = pace
            grant = pacing.reserve(session, platform.value, len(group),
                                   per_second=per_second, burst=burst, horizon=self.horizon)
            n = len(grant.delays)
            granted += list(zip(group[:n], grant.delays, strict=True))
            refused += [(d, grant.retry_in) for d in group[n:]]
        return Paced(granted, refused)
