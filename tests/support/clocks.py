"""Clocks for tests: time that moves only when the test moves it."""

from __future__ import annotations

from medcrypt.crypto.clock import FixedClock

#: The bot, the jobs and the companions' sessions share one; ``.set(at)`` moves it, so
#: months pass without sleeping. (FixedClock already has ``set``; the name says why a
#: test holds one.)
MovableClock = FixedClock
