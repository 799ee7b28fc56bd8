"""``medcrypt-bot run`` under a test-owned ``$NOTIFY_SOCKET``, as systemd starts it.

The real CLI is started as a process with ``$NOTIFY_SOCKET`` and ``$WATCHDOG_USEC`` set,
the way a ``Type=notify`` unit with ``WatchdogSec=`` runs it, and the test reads the
datagrams systemd would: EXTEND_TIMEOUT_USEC, then READY=1 once the bot serves (its
/readyz says so), WATCHDOG=1 well inside the timeout, STOPPING=1 at SIGTERM.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import httpx

from medcrypt.sandbox import FakeTelegram
from medcrypt.sandbox.fake_twilio import FakeTwilio
from tests.support.bot_process import BotProcess, bot_environ
from tests.support.ports import worker_port
from tests.support.rigs import sandbox_settings, write_config
from tests.support.sd_notify import NotifySocket

WATCHDOG_USEC = 600_000  # pings every 0.3 s


def test_bot_process_sends_ready_watchdog_and_stopping(tmp_path: Path) -> None:
    port, monitoring = worker_port(), worker_port()
    with NotifySocket() as notify, FakeTelegram() as tg, FakeTwilio(
            webhook_url=f"http://127.0.0.1:{port}/twilio/inbound") as tw:
        cfg = write_config(tmp_path / "bot.toml", sandbox_settings(
            tg, tw, port, tmp_path / "bot.db", monitoring={"listen_port": monitoring}))
        env = {**bot_environ(tg, tw), **notify.environ(WATCHDOG_USEC)}
        bot = BotProcess(cfg, env, tmp_path / "bot.log", port)
        bot.start()
        try:
            notify.wait_for("READY=1")
            # READY=1 came once the bot was serving: the database at head, loops up.
            ready = httpx.get(f"http://127.0.0.1:{monitoring}/readyz", timeout=5)
            assert ready.status_code == 200, ready.text
            extend = notify.first_index("EXTEND_TIMEOUT_USEC=")
            assert 0 <= extend < notify.first_index("READY=1")
            time.sleep(1.5)
            pings = notify.with_line("WATCHDOG=1")
            assert len(pings) >= 3, notify.all()
            gaps = [b.at - a.at for a, b in itertools.pairwise(pings)]
            assert max(gaps) < WATCHDOG_USEC / 1_000_000, gaps  # well inside the timeout
        finally:
            bot.stop()
        assert bot.proc is not None and bot.proc.returncode == 0
        stopping = notify.wait_for("STOPPING=1", timeout=5)
        assert stopping.at > notify.wait_for("READY=1").at
