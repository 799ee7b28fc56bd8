"""Keep every platform loop running: a loop that dies is restarted, with backoff.

On 06f4938 Telegram's polling task died of one exception nobody expected and nothing
noticed: WhatsApp went on, the process looked healthy, and no getUpdates call followed.
Each loop now runs under :class:`Supervisor`:

- :meth:`Supervisor.start` returns once the loop says it is ready (polling, or its
  socket listening). A loop that fails before it was ever ready raises there: that is
  a start-up failure for the operator, not something to retry quietly.
- Afterwards any exception - or a loop returning without being asked to - marks the
  loop down in :class:`~bot.domain.health.LoopHealth` (by exception class only), and it
  is started again after a delay that doubles from ``first_delay`` up to
  ``max_delay``; a loop that stayed up for ``stable_after`` seconds starts over from
  the first delay.
- :meth:`Supervisor.stop` asks each loop to stop (or cancels it, for loops that are
  safe to cancel) and waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from medcrypt.bot.domain.health import LoopHealth

log = structlog.get_logger("bot.supervisor")

#: A supervised loop: runs until stopped, calls its argument once it is ready.
LoopRun = Callable[[Callable[[], None]], Awaitable[None]]
#: How long stop() waits for a loop that was asked to stop before cancelling it.
STOP_GRACE_SECONDS = 10.0


class LoopReturned(Exception):
    """A supervised loop returned although nobody asked it to stop."""


@dataclass
class _Loop:
    name: str
    run: LoopRun
    stop: Callable[[], None] | None
    task: asyncio.Task[None] | None = None


class Supervisor:
    def __init__(self, health: LoopHealth, *, first_delay: float = 0.5,
                 max_delay: float = 30.0, stable_after: float = 60.0) -> None:
        self.health = health
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.stable_after = stable_after
        self._loops: list[_Loop] = []
        self._stopping = asyncio.Event()

    async def start(self, name: str, run: LoopRun, *,
                    stop: Callable[[], None] | None = None) -> None:
        """Run ``run`` supervised; return once it is ready, raise if it never was.

        ``stop`` asks the loop to return; without it the loop is cancelled at stop().
        """
        self.health.register(name)
        loop = _Loop(name, run, stop)
        first_ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        loop.task = asyncio.create_task(self._supervise(loop, first_ready),
                                        name=f"supervised:{name}")
        self._loops.append(loop)
        await first_ready

    async def _supervise(self, loop: _Loop, first_ready: asyncio.Future[None]) -> None:
        clock = asyncio.get_running_loop()
        attempt = 0
        while not self._stopping.is_set():
            started = clock.time()

            def ready() -> None:
                self.health.mark_up(loop.name)
                if not first_ready.done():
                    first_ready.set_result(None)

            try:
                await loop.run(ready)
                if self._stopping.is_set():
                    return
                raise LoopReturned(loop.name)
            except Exception as exc:
                if self._stopping.is_set():
                    return
                self.health.mark_down(loop.name, f"crashed:{type(exc).__name__}")
                if not first_ready.done():  # never ready: the caller's start-up failed
                    first_ready.set_exception(exc)
                    return
                if clock.time() - started >= self.stable_after:
                    attempt = 0
                delay = min(self.max_delay, self.first_delay * 2 ** attempt)
                attempt += 1
                log.error("loop_died", loop=loop.name, error=type(exc).__name__,
                          attempt=attempt, restart_in_s=delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            if self._stopping.is_set():
                return
            self.health.count_restart(loop.name)
            log.warning("loop_restarting", loop=loop.name, attempt=attempt)

    async def stop(self) -> None:
        """Stop every loop, the last started first."""
        self._stopping.set()
        for loop in reversed(self._loops):
            if loop.task is None:
                continue
            if loop.stop is None:
                loop.task.cancel()
            else:
                loop.stop()
            done, _ = await asyncio.wait({loop.task}, timeout=STOP_GRACE_SECONDS)
            if not done:
                loop.task.cancel()
                await asyncio.wait({loop.task})
            self.health.mark_down(loop.name, "stopped")
