"""Platform loops are supervised: a dead loop is restarted, and readiness says so.

The supervisor is exercised with real coroutines that die the way a loop can (an
exception nobody expected, a server that returns on its own), and the live bot's
health follows Telegram going dark and coming back through the sandbox.
"""

from __future__ import annotations

import asyncio
import io
import socket
from pathlib import Path

import pytest

from medcrypt.bot.adapters.http_listener import Listener, ListenerFailed
from medcrypt.bot.app.supervisor import LoopReturned, Supervisor
from medcrypt.bot.domain.health import NOT_STARTED, LoopHealth
from medcrypt.crypto.logsetup import configure_logging
from medcrypt.sandbox import Faults
from tests.support.rigs import PHYSICIAN_TG, live_bot, until


class FlakyLoop:
    """Dies ``deaths`` times (after it was ready), then runs until cancelled."""

    def __init__(self, deaths: int, error: type[Exception] = RuntimeError) -> None:
        self.deaths = deaths
        self.error = error
        self.runs = 0
        self.die = asyncio.Event()

    async def run(self, ready: object) -> None:
        self.runs += 1
        ready()  # type: ignore[operator]
        if self.runs <= self.deaths:
            await self.die.wait()
            self.die.clear()
            raise self.error("boom with details that must not be logged")
        await asyncio.Event().wait()


async def test_a_loop_that_dies_is_restarted_and_is_down_meanwhile() -> None:
    health = LoopHealth()
    sup = Supervisor(health, first_delay=0.3, max_delay=1.0)
    loop = FlakyLoop(deaths=2, error=TypeError)
    await sup.start("telegram", loop.run)
    assert health.ready() and loop.runs == 1
    loop.die.set()
    await until(lambda: not health.ready(), timeout=2)
    state = health.snapshot()["telegram"]
    assert state.reason == "crashed:TypeError" and not state.up
    await until(lambda: loop.runs == 2 and health.ready(), timeout=3)
    loop.die.set()  # second death: the delay doubles (0.6 s) before the third run
    await until(lambda: not health.ready(), timeout=2)
    await asyncio.sleep(0.4)
    assert loop.runs == 2 and not health.ready()
    await until(lambda: loop.runs == 3 and health.ready(), timeout=3)
    assert health.snapshot()["telegram"].restarts == 2
    await sup.stop()
    assert health.snapshot()["telegram"].reason == "stopped"


async def test_a_loop_that_returns_on_its_own_counts_as_dead() -> None:
    health = LoopHealth()
    sup = Supervisor(health, first_delay=0.1)
    runs = []

    async def run(ready: object) -> None:
        runs.append(1)
        ready()  # type: ignore[operator]
        if len(runs) == 1:
            return  # e.g. a server that stopped without being asked
        await asyncio.Event().wait()

    await sup.start("whatsapp", run)
    await until(lambda: len(runs) == 2 and health.ready(), timeout=3)
    assert health.snapshot()["whatsapp"].restarts == 1
    await sup.stop()


async def test_a_loop_that_never_gets_ready_fails_start() -> None:
    health = LoopHealth()
    sup = Supervisor(health)

    async def run(ready: object) -> None:
        raise LoopReturned("cannot start")

    with pytest.raises(LoopReturned):
        await sup.start("telegram", run)
    assert not health.ready()
    await sup.stop()


async def test_a_listener_on_a_taken_port_fails_start_with_one_typed_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    configure_logging(level="INFO", json=True, stream=out)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        async def app(scope: object, receive: object, send: object) -> None:
            raise AssertionError("never served")

        listener = Listener(app, host="127.0.0.1", port=port, max_body_bytes=1024,
                            endpoint="whatsapp_webhook")
        sup = Supervisor(LoopHealth())
        with pytest.raises(ListenerFailed, match="cannot listen"):
            await sup.start("whatsapp", listener.run, stop=listener.stop)
        await sup.stop()
    # uvicorn's own record went through the process's handler, not one of uvicorn's.
    assert '"logger_name": "uvicorn.error"' in out.getvalue()
    assert "Errno" not in out.getvalue() + capsys.readouterr().err


async def test_registered_loops_are_not_ready_before_they_start() -> None:
    health = LoopHealth()
    assert not health.ready()  # nothing registered is not "ready"
    health.register("telegram")
    assert health.snapshot()["telegram"].reason == NOT_STARTED
    assert not health.ready()


async def test_live_bot_readiness_follows_telegram_going_dark_and_back(
        tmp_path: Path) -> None:
    async with live_bot(tmp_path) as rig:
        assert set(rig.bot.health.snapshot()) == {"telegram", "whatsapp"}
        assert rig.bot.health.ready()
        rig.tg.faults = Faults(error_rate=1.0, methods=frozenset({"getUpdates",
                                                                  "getupdates"}))
        await until(lambda: not rig.bot.health.ready(), timeout=15)
        reason = rig.bot.health.snapshot()["telegram"].reason
        assert reason.startswith("poll_failing:")
        assert rig.bot.health.snapshot()["whatsapp"].up  # the other platform is fine
        rig.tg.faults = Faults()
        await until(rig.bot.health.ready, timeout=15)
        await rig.tg_says(PHYSICIAN_TG, "/help", expect="/status")
    assert not rig.bot.health.ready()  # stopped
