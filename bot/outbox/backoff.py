"""Retry delays: exponential backoff with full jitter, capped.

Full jitter (delay drawn uniformly from ``[0, min(cap, base * 2**attempt)]``) spreads the
retries of many chats that failed together, so a platform recovering from an outage is
not hit by a synchronized wave. ``rand`` is injectable so tests can pin it.
"""

from __future__ import annotations

import random
from collections.abc import Callable

_SYSTEM_RANDOM = random.SystemRandom()


def backoff_seconds(
    attempt: int,
    *,
    base: float,
    cap: float,
    rand: Callable[[], float] = _SYSTEM_RANDOM.random,
) -> float:
    """Delay before retry number ``attempt`` (1 = first retry)."""
    exp = min(cap, base * (2 ** max(0, attempt - 1)))
    # Never zero: a floor of a tenth of the base keeps a hot failure from spinning.
    return float(max(base / 10, exp * rand()))
