"""Keep the garbage collector off the objects a started bot holds for its whole life.

A started bot holds a large heap that never becomes garbage: about 1,600 modules, the
SQLAlchemy metadata and the prebuilt statements, the PTB and Twilio clients, the
compiled caches. CPython's full (generation 2) collection walks every tracked object,
so each one cost ~110 ms of CPU in the relay benchmark, about 1 s per 4,000 relayed
messages, spent re-proving that the startup heap is still alive
(docs/adr/0045-frozen-startup-heap.md).

:func:`freeze_startup_heap` collects once (so no garbage made while starting is kept)
and then moves every surviving object to the permanent generation (:func:`gc.freeze`);
later collections look only at what the bot allocates while it runs. :func:`thaw`
undoes it when the bot stops, so a process that stops a bot (the tests, the demo)
collects that bot's objects as usual. Reference counting frees frozen objects as
before: only reference *cycles* among them wait for :func:`thaw`.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collect, then freeze what survives; returns how many objects are now frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def thaw() -> None:
    """Give the frozen objects back to the collector (oldest generation)."""
    gc.unfreeze()
