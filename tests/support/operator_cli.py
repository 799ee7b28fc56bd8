"""The two command-line programs as an operator runs them: real processes, real output.

Start-up failures are judged by what an operator sees on the terminal or in the
journal, so these helpers run ``python -m medcrypt.bot`` / ``python -m
medcrypt.companion.cli`` in a child process and split stderr into the structured log
lines (JSON, one per event) and everything else - which must be the one failure line.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

ROOT = Path(__file__).resolve().parents[2]

#: Variables of the operator's shell that would change what a test means.
CLEARED = ("MEDCRYPT_CONFIG", "MEDCRYPT_DATABASE_URL", "MEDCRYPT_DEBUG", "TELEGRAM_BOT_TOKEN",
           "TELEGRAM_WEBHOOK_SECRET", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN",
           "TWILIO_WHATSAPP_FROM", "MEDCRYPT_ADMIN_WHATSAPP", "MEDCRYPT_SERVER_KEYS",
           "MEDCRYPT_AUDIT_SIGNING_KEY")


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str

    @property
    def events(self) -> list[dict[str, Any]]:
        """The structured log lines on stderr."""
        found = []
        for line in self.stderr.splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return found

    @property
    def said(self) -> list[str]:
        """Every non-empty stderr line that is not a structured log line."""
        return [line for line in self.stderr.splitlines()
                if line.strip() and not line.startswith("{")]


def operator_env(**extra: str) -> dict[str, str]:
    """This process's environment without the project's variables, a fresh server
    keyring, and ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env["MEDCRYPT_SERVER_KEYS"] = "1:" + base64.b64encode(os.urandom(32)).decode()
    env.update(extra)
    return env


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    path.write_text(tomli_w.dumps(sections))
    return path


def run_bot(*argv: str, env: dict[str, str], cwd: Path, timeout: float = 90) -> Ran:
    """``python -m medcrypt.bot ARGV`` to its end."""
    return _run([sys.executable, "-m", "medcrypt.bot", *argv], env, cwd, timeout)


def run_companion(*argv: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> Ran:
    return _run([sys.executable, "-m", "medcrypt.companion", *argv], env, cwd, timeout)


def _run(argv: list[str], env: dict[str, str], cwd: Path, timeout: float) -> Ran:
    done = subprocess.run(argv, env={**env, "PYTHONPATH": str(ROOT)}, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False)
    return Ran(done.returncode, done.stdout, done.stderr)
