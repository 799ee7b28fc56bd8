"""/healthz, /readyz and /metrics on the bot's own loopback listener, against the sandbox.

Polling mode (the rig's) has no other HTTP server, so these answer from the monitoring
listener or not at all. Readiness follows real trouble: a platform that stops answering
and a database taken back one migration under the running bot.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable
from contextlib import closing
from pathlib import Path

import httpx
from alembic.script import ScriptDirectory

from medcrypt.sandbox import Faults
from medcrypt.storage import migrate
from tests.support.monitoring import get, scrape
from tests.support.ports import worker_port
from tests.support.rigs import live_bot


async def test_health_ready_and_metrics_answer_on_loopback(tmp_path: Path) -> None:
    port = worker_port()
    async with live_bot(tmp_path, monitoring={"listen_port": port}) as rig:
        live = await get(port, "/healthz")
        assert live.status_code == 200 and live.text == "ok\n"
        assert rig.bot.monitoring_port == port
        ready = await get(port, "/readyz")
        assert ready.status_code == 200, ready.text
        report = ready.json()
        assert report["ready"] and report["database"] == {"ok": True, "reason": ""}
        assert {name: loop["up"] for name, loop in report["loops"].items()} == {
            "telegram": True, "whatsapp": True}
        result = await scrape(port)
        assert result.value("medcrypt_ready") == 1
        assert result.value("medcrypt_database_ready") == 1
        async with httpx.AsyncClient(timeout=5) as client:
            base = f"http://127.0.0.1:{port}"
            assert (await client.post(f"{base}/metrics", content=b"x")).status_code == 405
            assert (await client.get(f"{base}/")).status_code == 404
            # The listener's edge caps bodies like every other endpoint of the bot.
            big = await client.request("GET", f"{base}/healthz", content=b"x" * 4096)
            assert big.status_code == 413
    # Stopped: nothing listens any more.
    try:
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
    except httpx.ConnectError:
        pass
    else:
        raise AssertionError("the monitoring listener outlived the bot")


async def test_readyz_follows_a_platform_going_dark(tmp_path: Path) -> None:
    port = worker_port()
    async with live_bot(tmp_path, monitoring={"listen_port": port}) as rig:
        assert (await get(port, "/readyz")).status_code == 200
        rig.tg.faults = Faults(error_rate=1.0, methods=frozenset({"getUpdates",
                                                                  "getupdates"}))
        dark: list[httpx.Response] = []

        async def not_ready() -> bool:
            dark.append(await get(port, "/readyz"))
            return dark[-1].status_code == 503

        await _eventually(not_ready)
        loops = dark[-1].json()["loops"]
        assert not loops["telegram"]["up"]
        assert loops["telegram"]["reason"].startswith("poll_failing:")
        assert loops["whatsapp"]["up"]
        assert (await get(port, "/healthz")).status_code == 200  # alive, just not ready
        assert (await scrape(port)).value("medcrypt_platform_loop_up", loop="telegram") == 0
        rig.tg.faults = Faults()

        async def ready_again() -> bool:
            return (await get(port, "/readyz")).status_code == 200

        await _eventually(ready_again)


async def test_readyz_reports_a_database_behind_the_migration_head(tmp_path: Path) -> None:
    port = worker_port()
    async with live_bot(tmp_path, monitoring={"listen_port": port,
                                              "probe_interval_seconds": 0.2}) as rig:
        assert (await get(port, "/readyz")).status_code == 200
        # Behind the head, as a database restored from before the last upgrade is: the
        # recorded revision is set one back (stamped, as `alembic stamp` does). Running
        # the last migration's downgrade on a live bot's database is not always possible:
        # 0023's refuses while values are sealed under the key tree.
        head = migrate.head()
        previous = ScriptDirectory.from_config(migrate.alembic_config()).get_revision(
            head).down_revision
        assert isinstance(previous, str)
        _stamp(rig.db, previous)
        try:
            answers: list[httpx.Response] = []

            async def behind() -> bool:
                answers.append(await get(port, "/readyz"))
                return answers[-1].status_code == 503

            await _eventually(behind)
            assert answers[-1].json()["database"] == {"ok": False,
                                                      "reason": "migrations_behind"}
            assert (await scrape(port)).value("medcrypt_database_ready") == 0
        finally:
            _stamp(rig.db, head)

        async def caught_up() -> bool:
            return (await get(port, "/readyz")).status_code == 200

        await _eventually(caught_up)


def _stamp(db: Path, revision: str) -> None:
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))


async def _eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15) -> None:
    """Poll an async predicate until it holds (``rigs.until`` takes plain callables)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)
