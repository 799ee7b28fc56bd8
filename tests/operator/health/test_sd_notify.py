"""systemd's notify protocol, on a socket the test owns: the watchdog pings come from
the event loop (blocked, it stops pinging, so systemd restarts a stuck relay), and the
notifier's own rules (abstract sockets, ``$WATCHDOG_PID``, sends that never raise).

The process as a ``Type=notify`` unit starts it: test_sd_notify_process.py.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from pathlib import Path

from medcrypt.bot.app.bot import start_budget_seconds
from medcrypt.bot.app.notify import Notifier
from tests.support.rigs import live_bot
from tests.support.sd_notify import NotifySocket

WATCHDOG_USEC = 600_000  # pings every 0.3 s


async def test_watchdog_pings_stop_while_the_event_loop_is_blocked(tmp_path: Path) -> None:
    with NotifySocket() as notify:
        async with live_bot(tmp_path, environ=notify.environ(WATCHDOG_USEC)) as rig:
            await notify.wait_for_async("WATCHDOG=1", timeout=5)
            # The start asked systemd for the time its own platform requests may take,
            # before anything else.
            budget = start_budget_seconds(rig.bot.settings)
            assert f"EXTEND_TIMEOUT_USEC={int(budget * 1_000_000)}" in notify.all()[0].lines
            blocked_from = time.monotonic()
            time.sleep(1.5)  # a blocking call on the bot's event loop (this test's loop)
            blocked_until = time.monotonic()
            await asyncio.sleep(1.0)
            pings = [d.at for d in notify.with_line("WATCHDOG=1")]
            during = [t for t in pings if blocked_from + 0.05 < t < blocked_until]
            after = [t for t in pings if t > blocked_until]
            assert not during, "a ping arrived while the event loop was blocked"
            assert len(after) >= 2  # and they resume once it runs again


def test_notifier_speaks_to_abstract_sockets_and_only_for_its_own_pid() -> None:
    name = f"medcrypt-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind("\0" + name)
        server.settimeout(2)
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "2000000"})
        assert notifier.watchdog_interval == 1.0
        assert notifier.ready() and notifier.extend_timeout(1.5)
        assert server.recv(4096).split(b"\n") == [b"READY=1", b"STATUS=relaying"]
        assert server.recv(4096) == b"EXTEND_TIMEOUT_USEC=1500000"
        # A child that inherited its parent's watchdog variables must not ping for it.
        other = Notifier({"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "2000000",
                          "WATCHDOG_PID": str(os.getpid() + 1)})
        assert other.watchdog_interval is None
        mine = Notifier({"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "2000000",
                         "WATCHDOG_PID": str(os.getpid())})
        assert mine.watchdog_interval == 1.0
    # Nobody listening: the send fails quietly, it never raises into the relay.
    gone = Notifier({"NOTIFY_SOCKET": "@" + name})
    assert not gone.watchdog()
    assert not Notifier({}).ready()  # not under systemd: nothing to do
