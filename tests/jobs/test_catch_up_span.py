"""The start-up catch-up is one busy span on the context it started with (CI found a
catch-up thread of a stopped bot running its last job on the next bot's context and
logging into another test): ``wait_idle`` cannot return between its jobs, and once the
bot's context is gone, no later job runs."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from medcrypt.bot.scheduler import runner


def _catch_up_in_thread(key: str, *, registered: Any, scheduled_by: Any) -> None:
    """Run the catch-up scheduled by one bot in its own thread (as the executor does)
    while ``registered`` holds the context key."""
    runner._CONTEXTS[key] = registered
    try:
        worker = threading.Thread(target=runner.catch_up, args=[key, scheduled_by])
        worker.start()
        worker.join(5)
    finally:
        runner._CONTEXTS.pop(key, None)


def test_catch_up_holds_wait_idle_and_stops_with_its_bot(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx: Any = object()  # stand-ins: the jobs themselves are replaced below
    next_bot: Any = object()
    ran: list[tuple[str, Any]] = []
    idle_between: list[bool] = []

    def fake_run(c: Any, job: str, trigger: str) -> None:
        assert trigger == "startup"
        ran.append((job, c))
        if job == "rotation":
            # The bot stops now: it waits for idle (it must not get it while the
            # catch-up is mid-way) and drops its context; the next bot registers.
            idle_between.append(runner.wait_idle(0.05))
            runner._CONTEXTS["span-test"] = next_bot

    monkeypatch.setattr(runner, "_run_logged", fake_run)
    _catch_up_in_thread("span-test", registered=ctx, scheduled_by=ctx)
    assert ran == [("rotation", ctx)]  # nothing more for a stopped bot, nothing on the next
    assert idle_between == [False]
    assert runner.wait_idle(1.0)


def test_a_catch_up_that_starts_after_its_bot_stopped_does_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The executor may start the thread late: the bot that scheduled it has stopped
    (its wait for idle saw nothing running) and the next bot holds the key. Looking the
    context up by key alone ran the old bot's catch-up on the new one (a stray
    ``job_done rotation startup`` in an unrelated test's captured stderr)."""
    old_bot: Any = object()
    next_bot: Any = object()
    ran: list[tuple[str, Any]] = []
    monkeypatch.setattr(runner, "_run_logged",
                        lambda c, job, trigger: ran.append((job, c)))
    # old_bot's stop popped its own entry; the next bot registered under the same key.
    _catch_up_in_thread("late-test", registered=next_bot, scheduled_by=old_bot)
    assert ran == []
    assert runner.wait_idle(1.0)
