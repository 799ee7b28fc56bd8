"""Per-user rate limit: a token bucket per identity, in memory.

Why in memory: the limit protects the relay and the platforms from one runaway sender,
a best-effort job that may reset on restart. It never decides whether a message is
delivered once accepted. The clock is injected so tests need no sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass

from medcrypt.crypto.clock import Clock

#: Most identities tracked at once; the least recently seen are forgotten first.
MAX_TRACKED = 100_000


@dataclass
class _Bucket:
    tokens: float
    stamp: float
    warned: bool = False


class RateLimiter:
    def __init__(self, per_minute: int, clock: Clock) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(max(1, per_minute))
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, identity_id: str) -> tuple[bool, bool]:
        """``(allowed, should_warn)``: warn once per limited stretch, not per message."""
        if self._rate <= 0:
            return True, False
        now = self._clock.now().timestamp()
        bucket = self._buckets.pop(identity_id, None)
        if bucket is None:
            bucket = _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.stamp) * self._rate)
        bucket.stamp = now
        self._buckets[identity_id] = bucket  # re-insert: dict order = recency
        if len(self._buckets) > MAX_TRACKED:
            del self._buckets[next(iter(self._buckets))]
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.warned = False
            return True, False
        warn = not bucket.warned
        bucket.warned = True
        return False, warn
