"""A started bot keeps the garbage collector's full passes off its startup heap, and
gives that heap back when it stops (bot/app/heap.py, ADR 0045).

Observed on the real bot between the loopback fakes, through the collector's own view:
``gc.get_objects()`` lists what collections walk, so an object the bot made at start
(its engine) must be missing from it while the bot runs and back once it stopped.
Garbage made before the start must be collected, not frozen with the survivors.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from medcrypt.crypto.keyless.wire import Direction
from tests.support.rigs import PHYSICIAN_TG, live_bot, until
from tests.support.tokens import message_token, pair


class _Node:
    """A reference cycle: only the cycle collector can free it."""

    def __init__(self) -> None:
        self.me = self


def _walked(obj: object) -> bool:
    """Whether the collector's passes look at ``obj`` (frozen objects are left out)."""
    return any(o is obj for o in gc.get_objects())


async def test_the_startup_heap_is_frozen_while_running_and_thawed_at_stop(
        tmp_path: Path) -> None:
    assert gc.get_freeze_count() == 0
    garbage = _Node()
    before_start = weakref.ref(garbage)
    del garbage  # a cycle: still alive until a collection finds it
    assert before_start() is not None
    async with live_bot(tmp_path) as rig:
        engine = rig.bot.engine
        assert gc.get_freeze_count() > 10_000  # modules, metadata, clients, caches
        assert not _walked(engine)
        assert before_start() is None  # collected before the freeze, not kept by it
        # The collector still does its job for what the running bot allocates.
        made = _Node()
        while_running = weakref.ref(made)
        del made
        gc.collect()
        assert while_running() is None
        # And the relay works on the frozen heap: a pairing and one message.
        pid = b"\x42" * 16
        await pair(rig, pid)
        token = message_token(pid, Direction.PHYSICIAN_TO_PATIENT, index=1)
        rig.tg.user_sends_text(PHYSICIAN_TG, token)
        await until(lambda: token in rig.wa_texts())
    assert gc.get_freeze_count() == 0
    assert _walked(engine)
