"""The real bot as a child process (``python -m medcrypt.bot run``) on the threaded fakes.

For tests that must see the bot from outside: kill it, restart it, or measure the
memory of its process alone (an in-process rig shares its peak with pytest and with
every earlier test of the worker).
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from medcrypt.sandbox import FakeTelegram
from medcrypt.sandbox.fake_twilio import FakeTwilio

ROOT = Path(__file__).resolve().parents[2]


def bot_environ(tg: FakeTelegram, tw: FakeTwilio) -> dict[str, str]:
    """This process's environment plus the sandbox's credentials and a fresh keyring."""
    env = {**os.environ,
           "MEDCRYPT_SERVER_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode(),
           "TELEGRAM_BOT_TOKEN": tg.token, "TWILIO_ACCOUNT_SID": tw.account_sid,
           "TWILIO_AUTH_TOKEN": tw.auth_token, "TWILIO_WHATSAPP_FROM": tw.whatsapp_from}
    env.pop("MEDCRYPT_DATABASE_URL", None)
    return env


class BotProcess:
    """``medcrypt-bot --config CFG run`` with its output appended to ``log``."""

    def __init__(self, cfg: Path, env: dict[str, str], log: Path, port: int) -> None:
        self.cfg, self.env, self.log, self.port = cfg, env, log, port
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def start(self) -> None:
        """Start it and wait until its WhatsApp webhook answers."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "medcrypt.bot", "--config", str(self.cfg), "run"],
                cwd=ROOT, env=self.env, stdout=out, stderr=out)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/media/x", timeout=0.5)
                return
            except httpx.HTTPError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError(f"bot did not start; see {self.log}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.kills += 1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def peak_rss_bytes(self) -> int:
        """The process's high-water resident set size so far (``VmHWM``, Linux)."""
        return _status_kib(self.pid, "VmHWM") * 1024


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")
