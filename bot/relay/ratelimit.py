"""Per-user rate limit: a token bucket per sender, in memory or shared in PostgreSQL.

The limit protects the relay and the platforms from one runaway sender, a best-effort
job that may reset on restart. It never decides whether a message is delivered once
accepted. :class:`RateLimiter` keeps the buckets in memory (SQLite: one process; the
clock is injected so tests need no sleeping); :class:`SharedRateLimiter` keeps one GCRA
row per sender in PostgreSQL, updated in the intake's own transaction, so several
replicas together allow the configured rate, not N times it (issue 18, ADR 0032).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from medcrypt.crypto.clock import Clock
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import index_keys
from medcrypt.storage.db import Session
from medcrypt.storage.repos import ratelimits

#: Most identities tracked at once; the least recently seen are forgotten first.
MAX_TRACKED = 100_000


@dataclass
class _Bucket:
    tokens: float
    stamp: float
    warned: bool = False


class Limiter(Protocol):
    def allow_sender(self, platform: str, address: str,
                     session: Session) -> tuple[bool, bool]:
        """``(allowed, should_warn)`` for one message of this sender."""
        ...  # pragma: no cover - a protocol


class SharedRateLimiter:
    """The limit in PostgreSQL (``storage.repos.ratelimits``), keyed by a blind index
    under the shred epoch's index DEK (never the address)."""

    def __init__(self, per_minute: int, keyring: Keyring, clock: Clock) -> None:
        self._per_second = per_minute / 60.0
        self._burst = max(1, per_minute)
        self._keyring = keyring
        self._clock = clock

    def allow_sender(self, platform: str, address: str,
                     session: Session) -> tuple[bool, bool]:
        if self._per_second <= 0:
            return True, False
        # Under the shred epoch's index DEK, like the identities' index: closing the
        # epoch drops the rows under the old one (storage/reindex.py).
        key = index_keys.current_index(session, self._keyring, "rate_limits", "key",
                                       f"{platform}:{address}", now=self._clock.now())
        return ratelimits.take(session, key, per_second=self._per_second, burst=self._burst)


class RateLimiter:
    def __init__(self, per_minute: int, clock: Clock) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(max(1, per_minute))
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def allow_sender(self, platform: str, address: str,
                     session: Session) -> tuple[bool, bool]:
        """Keyed by the address, hashed and in memory only (the session is not used)."""
        del session
        return self.allow(hashlib.sha256(f"{platform}:{address}".encode()).hexdigest())

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
