"""Injected faults and platform rate limits for the loopback fakes.

Reliability claims ("20% faults, every message delivered exactly once") are only worth
something if the faults are reproducible, so every random decision comes from a
:class:`random.Random` seeded by :attr:`Faults.seed`. The fakes consult a
:class:`FaultPlan` once per API request, before the request has any effect: a faulted
request changes nothing on the platform side, which is the case where exactly-once
delivery is achievable. ``lost_response_rate`` models the other case (the platform acted
but the answer never arrived); with it the bot can only promise at-least-once on
Telegram, which has no idempotency key.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum


class FaultKind(Enum):
    """What the fake does to one request instead of (or after) answering it."""

    NONE = "none"
    ERROR = "error"  # 500 or 502 with a platform-shaped body
    TIMEOUT = "timeout"  # hang longer than any sane client timeout
    DROP = "drop"  # close the socket without a response
    RATE_LIMIT = "rate_limit"  # 429 in the platform's shape
    LOST_RESPONSE = "lost_response"  # act on the request, then drop the connection


@dataclass(frozen=True)
class Faults:
    """Global fault switches; rates are independent probabilities per request (sum <= 1)."""

    error_rate: float = 0.0
    timeout_rate: float = 0.0
    drop_rate: float = 0.0
    rate_limit_rate: float = 0.0
    lost_response_rate: float = 0.0
    #: How long a TIMEOUT request hangs before its connection is closed.
    hang_seconds: float = 30.0
    #: retry_after (seconds) carried by injected 429s.
    retry_after: int = 1
    seed: int = 0
    #: API method names (Telegram method or "Messages.create" etc., case-insensitive)
    #: faults apply to; ``None`` means every API request.
    methods: frozenset[str] | None = None

    def __post_init__(self) -> None:
        rates = (
            self.error_rate,
            self.timeout_rate,
            self.drop_rate,
            self.rate_limit_rate,
            self.lost_response_rate,
        )
        if any(r < 0 or r > 1 for r in rates) or sum(rates) > 1 + 1e-9:
            raise ValueError("fault rates must be in [0, 1] and sum to at most 1")
        if self.hang_seconds < 0 or self.retry_after < 0:
            raise ValueError("hang_seconds and retry_after must not be negative")


class FaultPlan:
    """Thread-safe, seeded decision maker; one :meth:`decide` call per API request."""

    def __init__(self, faults: Faults | None = None) -> None:
        self._lock = threading.Lock()
        self._faults = faults or Faults()
        self._rng = random.Random(self._faults.seed)  # noqa: S311 - reproducible schedule, not secrets
        self._methods = _lower(self._faults.methods)
        #: How many faults of each kind were injected (tests assert they really happened).
        self.counts: dict[FaultKind, int] = dict.fromkeys(FaultKind, 0)

    @property
    def faults(self) -> Faults:
        return self._faults

    def configure(self, faults: Faults) -> None:
        """Replace the switches and restart the RNG from ``faults.seed``."""
        with self._lock:
            self._faults = faults
            self._rng = random.Random(faults.seed)  # noqa: S311 - reproducible schedule
            self._methods = _lower(faults.methods)

    def decide(self, method: str) -> FaultKind:
        with self._lock:
            f = self._faults
            if f.methods is not None and method.lower() not in self._methods:
                return FaultKind.NONE
            roll = self._rng.random()
            kind = FaultKind.NONE
            for rate, candidate in (
                (f.error_rate, FaultKind.ERROR),
                (f.timeout_rate, FaultKind.TIMEOUT),
                (f.drop_rate, FaultKind.DROP),
                (f.rate_limit_rate, FaultKind.RATE_LIMIT),
                (f.lost_response_rate, FaultKind.LOST_RESPONSE),
            ):
                if roll < rate:
                    kind = candidate
                    break
                roll -= rate
            self.counts[kind] += 1
            return kind

    def error_status(self) -> int:
        """500 or 502, from the same seeded stream."""
        with self._lock:
            return self._rng.choice((500, 502))


def _lower(methods: frozenset[str] | None) -> frozenset[str]:
    """Bot API method names are case-insensitive, so the filter is too."""
    return frozenset(m.lower() for m in methods or ())


@dataclass(frozen=True)
class RateLimits:
    """Token buckets like the platform's documented limits (Telegram: ~1/s per chat, 30/s)."""

    per_chat_per_second: float = 1.0
    per_chat_burst: int = 3
    global_per_second: float = 30.0
    global_burst: int = 30


@dataclass
class _Bucket:
    capacity: float
    rate: float
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """Take one token; return 0 on success or the seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class RateLimiter:
    """Per-key and global token buckets; :meth:`check` returns retry_after or 0."""

    limits: RateLimits
    monotonic: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _global: _Bucket | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, key: str) -> int:
        """Consume a send for ``key``; a positive result is the 429's retry_after."""
        lim = self.limits
        with self._lock:
            now = self.monotonic()
            if self._global is None:
                self._global = _Bucket(lim.global_burst, lim.global_per_second,
                                       lim.global_burst, now)
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = _Bucket(lim.per_chat_burst, lim.per_chat_per_second,
                                 lim.per_chat_burst, now)
                self._buckets[key] = bucket
            wait = bucket.take(now)
            if wait:
                return max(1, math.ceil(wait))
            gwait = self._global.take(now)
            if gwait:
                bucket.tokens += 1  # the chat's send did not happen
                return max(1, math.ceil(gwait))
            return 0


class Injected429s:
    """Per-key queue of one-shot 429s (``inject_429(chat_id, retry_after, times)``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, list[int]] = {}

    def add(self, key: str, retry_after: int, times: int = 1) -> None:
        if times < 1 or retry_after < 0:
            raise ValueError("times must be >= 1 and retry_after >= 0")
        with self._lock:
            self._pending.setdefault(key, []).extend([retry_after] * times)

    def take(self, key: str) -> int | None:
        """The retry_after of the next injected 429 for ``key``, consuming it."""
        with self._lock:
            queue = self._pending.get(key)
            if not queue:
                return None
            value = queue.pop(0)
            if not queue:
                del self._pending[key]
            return value
