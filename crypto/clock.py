"""Time as an injected dependency.

``crypto/`` never reads the wall clock: epochs, offer expiry and grace windows are
computed from a :class:`Clock` handed in by the caller, so tests and vectors can pin
time and a 14-month time-travel test needs no sleeping. The system clock lives at the
edges (``companion/`` and ``bot/``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Anything that can say what time it is, always timezone-aware UTC."""

    def now(self) -> datetime: ...


class FixedClock:
    """A clock that only moves when told to; for tests, vectors and time travel."""

    def __init__(self, at: datetime) -> None:
        self._at = ensure_utc(at)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = ensure_utc(at)


def ensure_utc(at: datetime) -> datetime:
    """Refuse naive datetimes: an epoch boundary is meaningless without a zone."""
    if at.tzinfo is None:
        raise ValueError("naive datetime: MedCrypt works in timezone-aware UTC only")
    return at.astimezone(UTC)
