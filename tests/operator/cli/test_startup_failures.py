"""Each start-up failure of ``medcrypt-bot run`` as an operator meets it: one line that
names the cause, the exit code README.md documents, no traceback, no library noise.

Every case is the real program in a child process, broken the way a deployment breaks:
a Bot API nobody listens on, a database directory that does not exist, a database
opened read-only, a schema behind the code. The start-up retries are configured short
(``[startup]``) so the give-up is reached in a second, and each attempt must show in
the log.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from medcrypt.sandbox import FakeTelegram
from medcrypt.sandbox.faults import Faults
from medcrypt.storage import migrate
from tests.support.operator_cli import ROOT, Ran, operator_env, run_bot, write_config
from tests.support.ports import worker_port

FAST_RETRIES = {"attempts": 3, "backoff_seconds": 0.05, "max_seconds": 5.0}
TOKEN = "7000000009:AAsecret-token-body-never-printed-xx"


def _config(tmp_path: Path, url: str, **sections: dict[str, Any]) -> Path:
    base: dict[str, dict[str, Any]] = {
        "database": {"url": url},
        "whatsapp": {"enabled": False},
        "telegram": {"enabled": False},
        "startup": FAST_RETRIES,
    }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    return write_config(tmp_path / "bot.toml", base)


def _assert_one_line(ran: Ran, code: int, *words: str) -> str:
    assert ran.returncode == code, (ran.returncode, ran.stderr[-2000:])
    assert len(ran.said) == 1, ran.said
    line = ran.said[0]
    assert line.startswith("medcrypt-bot: "), line
    for word in words:
        assert word in line, (word, line)
    everything = ran.stdout + ran.stderr
    assert "Traceback" not in everything
    assert "Unclosed" not in everything
    assert TOKEN not in everything and TOKEN.split(":")[1] not in everything
    return line


def _retries_logged(ran: Ran, target: str) -> None:
    retries = [e for e in ran.events if e.get("event") == "startup_retry"
               and e.get("target") == target]
    gave_up = [e for e in ran.events if e.get("event") == "startup_gave_up"
               and e.get("target") == target]
    assert [e["attempt"] for e in retries] == [1, 2], ran.events
    assert [e["attempt"] for e in gave_up] == [3], ran.events


def test_telegram_unreachable_at_start(tmp_path: Path) -> None:
    closed = worker_port()  # nothing listens there
    cfg = _config(tmp_path, f"sqlite:///{tmp_path / 'bot.db'}", telegram={
        "enabled": True, "api_base_url": f"http://127.0.0.1:{closed}/bot",
        "api_file_url": f"http://127.0.0.1:{closed}/file/bot"})
    ran = run_bot("--config", str(cfg), "run", env=operator_env(TELEGRAM_BOT_TOKEN=TOKEN),
                  cwd=tmp_path)
    _assert_one_line(ran, 5, "Telegram", f"127.0.0.1:{closed}", "unreachable")
    _retries_logged(ran, "telegram")


def test_database_unreachable(tmp_path: Path) -> None:
    cfg = _config(tmp_path, f"sqlite:///{tmp_path / 'no-such-dir' / 'bot.db'}")
    ran = run_bot("--config", str(cfg), "run", env=operator_env(), cwd=tmp_path)
    _assert_one_line(ran, 6, "database", "unreachable")
    _retries_logged(ran, "database")


def test_database_read_only(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    migrate.upgrade(f"sqlite:///{db}")
    cfg = _config(tmp_path, f"sqlite:///file:{db}?mode=ro&uri=true")
    ran = run_bot("--config", str(cfg), "run", env=operator_env(), cwd=tmp_path)
    _assert_one_line(ran, 6, "database", "read-only")
    _retries_logged(ran, "database")


def test_migrations_behind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    migrate.upgrade(url, "0013_persons_and_replays")
    cfg = _config(tmp_path, url, database={"migrate_at_start": False})
    ran = run_bot("--config", str(cfg), "run", env=operator_env(), cwd=tmp_path)
    _assert_one_line(ran, 6, "0013_persons_and_replays", migrate.head(), "medcrypt-bot migrate")
    assert migrate.current(url) == "0013_persons_and_replays"  # nothing was changed


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    cfg = _config(tmp_path, f"sqlite:///{tmp_path / 'no-such-dir' / 'bot.db'}",
                  startup={"attempts": 1})
    ran = run_bot("--config", str(cfg), "run", "--debug", env=operator_env(), cwd=tmp_path)
    assert ran.returncode == 6
    assert "Traceback" in ran.stderr
    assert ran.said[-1].startswith("medcrypt-bot: database")


def test_a_telegram_that_comes_back_during_the_retries_is_used(tmp_path: Path) -> None:
    """getMe fails (HTTP 502) until the fake is healed; the bot keeps trying, then runs."""
    with FakeTelegram(TOKEN, faults=Faults(error_rate=1.0, methods=frozenset({"getMe"}))) as tg:
        cfg = _config(tmp_path, f"sqlite:///{tmp_path / 'bot.db'}", telegram={
            "enabled": True, "api_base_url": tg.base_url, "api_file_url": tg.base_file_url},
            startup={"attempts": 30, "backoff_seconds": 0.1, "max_seconds": 60.0})
        log = tmp_path / "bot.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "medcrypt.bot", "--config", str(cfg), "run"],
                cwd=tmp_path, env={**operator_env(TELEGRAM_BOT_TOKEN=TOKEN),
                                   "PYTHONPATH": str(ROOT)},
                stdout=out, stderr=out)
        try:
            _wait_for(log, b'"startup_retry"', proc)
            tg.fault_plan.configure(Faults())
            _wait_for(log, b"running (Ctrl-C to stop)", proc)
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
    text = log.read_text()
    assert code == 0, text[-2000:]
    assert "Traceback" not in text and "Unclosed" not in text


def _wait_for(log: Path, needle: bytes, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        if needle in log.read_bytes():
            return
        if proc.poll() is not None:
            raise AssertionError(f"bot exited {proc.returncode}: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} not logged: {log.read_text()[-2000:]}")
