"""SQLite: a second ``medcrypt-bot run`` on the same database file is refused in one
line (exit 6); ``migrate`` and ``jobs run`` still work beside the running bot."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medcrypt.bot.app import singleton
from medcrypt.sandbox import FakeTelegram
from medcrypt.sandbox.fake_twilio import FakeTwilio
from tests.support.bot_process import ROOT, BotProcess, bot_environ
from tests.support.ports import worker_port
from tests.support.rigs import sandbox_settings, write_config


def test_the_lock_names_its_holder_and_dies_with_it(tmp_path: Path) -> None:
    db = str(tmp_path / "bot.db")
    held = singleton.acquire(db)
    with pytest.raises(singleton.AlreadyRunning, match=f"pid {os.getpid()}"):
        singleton.acquire(db)
    held.release()
    singleton.acquire(db).release()
    # A holder killed with SIGKILL leaves the file behind but not the lock.
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from medcrypt.bot.app import singleton; "
         f"singleton.acquire({db!r}); print('held', flush=True); time.sleep(60)"],
        cwd=ROOT, stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline() == b"held\n"
    with pytest.raises(singleton.AlreadyRunning, match=f"pid {child.pid}"):
        singleton.acquire(db)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert singleton.lock_path(db).exists()
    singleton.acquire(db).release()


def _bot(*argv: str, cfg: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "medcrypt.bot", "--config", str(cfg), *argv],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def test_a_second_run_is_refused_but_tools_are_not(tmp_path: Path) -> None:
    port = worker_port()
    with FakeTelegram() as tg, FakeTwilio(
            webhook_url=f"http://127.0.0.1:{port}/twilio/inbound") as tw:
        cfg = write_config(tmp_path / "bot.toml", sandbox_settings(
            tg, tw, port, tmp_path / "bot.db"))
        env = bot_environ(tg, tw)
        bot = BotProcess(cfg, env, tmp_path / "bot.log", port)
        bot.start()
        try:
            started = time.monotonic()
            second = _bot("run", cfg=cfg, env=env)
            assert second.returncode == 6
            assert second.stderr.strip().splitlines() == [
                f"medcrypt-bot: another `medcrypt-bot run` (pid {bot.pid}) is using this "
                f"SQLite database (lock file {tmp_path / 'bot.db'}.run.lock); stop it "
                "first - several replicas need PostgreSQL"]
            assert time.monotonic() - started < 60
            assert _bot("migrate", cfg=cfg, env=env).returncode == 0
            jobs = _bot("jobs", "run", "shred_sweep", cfg=cfg, env=env)
            assert jobs.returncode == 0, jobs.stderr
            assert bot.proc is not None and bot.proc.poll() is None  # the first one runs on
        finally:
            bot.stop()
