"""Whether each platform loop of this process is up: the state readiness reads.

A platform loop is what brings a platform's messages in: Telegram's long polling (or
its webhook listener) and the WhatsApp webhook listener. A loop that died or cannot
reach its platform stops messages without stopping the process, which then looks
healthy while a platform is silent - what happened when one unparseable Telegram
update ended polling for good. The supervisor (:mod:`bot.app.supervisor`) marks a
loop up when it is ready and down when it dies; the Telegram poller also marks itself
down while getUpdates keeps failing. A readiness check (the operator issue's
``/readyz``) answers from :meth:`LoopHealth.ready` and :meth:`LoopHealth.snapshot`,
cached state only: nothing here does I/O.

Reasons are fixed words and exception class names, never text from a platform.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

#: The reason of a loop registered but not yet started.
NOT_STARTED = "not_started"


@dataclass(frozen=True)
class LoopState:
    up: bool
    #: Empty when up; otherwise why not ("not_started", "crashed:TypeError", ...).
    reason: str
    #: How often the supervisor restarted it.
    restarts: int
    #: When ``up`` last changed (monotonic seconds).
    since: float


class LoopHealth:
    """Thread-safe: a readiness endpoint may read it from another thread."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._loops: dict[str, LoopState] = {}

    def register(self, name: str) -> None:
        """Expect this loop: it counts as down until it is first marked up."""
        with self._lock:
            self._loops.setdefault(name, LoopState(False, NOT_STARTED, 0, self._monotonic()))

    def mark_up(self, name: str) -> None:
        self._set(name, up=True, reason="")

    def mark_down(self, name: str, reason: str) -> None:
        self._set(name, up=False, reason=reason)

    def count_restart(self, name: str) -> None:
        with self._lock:
            state = self._loops[name]
            self._loops[name] = replace(state, restarts=state.restarts + 1)

    def _set(self, name: str, *, up: bool, reason: str) -> None:
        with self._lock:
            old = self._loops.get(name) or LoopState(not up, NOT_STARTED, 0, 0.0)
            since = self._monotonic() if old.up != up else old.since
            self._loops[name] = LoopState(up, reason, old.restarts, since)

    def snapshot(self) -> dict[str, LoopState]:
        with self._lock:
            return dict(self._loops)

    def ready(self) -> bool:
        """Every registered loop is up (and at least one is registered)."""
        with self._lock:
            return bool(self._loops) and all(s.up for s in self._loops.values())
