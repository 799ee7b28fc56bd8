"""The demo's clinic: its configuration, its travelling clock and its operator console.

The demo runs the operator's steps (``escrow init``, ``audit verify``, ``breakglass
open`` ...) as real ``medcrypt-bot`` processes against a config file written here, as
an operator would type them. The bot itself runs in the demo's process on a
:class:`TravelClock`: real time keeps flowing (delivery, rate limits and media URL
expiry behave as in production), but the calendar can be moved forward to show a month
passing, its rotation, the grace window and the shred.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from medcrypt.crypto.errors import MedCryptError


class TravelClock:
    """Wall time shifted by an offset; :meth:`travel_to` moves the calendar, not the pace."""

    def __init__(self, at: datetime) -> None:
        self._offset = timedelta(0)
        self.travel_to(at)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def travel_to(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("naive datetime: the demo's calendar is UTC")
        self._offset = at.astimezone(UTC) - datetime.now(UTC)


def settings_dict(root: Path, *, telegram: tuple[str, str], twilio_api: str, port: int,
                  template_sid: str, escrow_public_key: str,
                  admin_telegram_ids: list[int]) -> dict[str, Any]:
    """The demo clinic's configuration (the bot in-process and every CLI run share it)."""
    return {
        "database": {"url": f"sqlite:///{root / 'bot.db'}"},
        "logging": {"level": "WARNING"},
        "clinic": {"escrow_public_key": escrow_public_key,
                   "admin_telegram_ids": admin_telegram_ids},
        "telegram": {"api_base_url": telegram[0], "api_file_url": telegram[1],
                     "poll_timeout_seconds": 1, "request_timeout_seconds": 5.0},
        "whatsapp": {"api_base_url": twilio_api,
                     "public_url": f"http://127.0.0.1:{port}", "listen_port": port,
                     "template_content_sid": template_sid,
                     "request_timeout_seconds": 5.0},
        # Any free loopback port: demos and tests may run side by side.
        "monitoring": {"listen_port": 0},
    }


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def write_toml(path: Path, config: dict[str, Any]) -> Path:
    """Write a two-level config (tables of scalars and lists) as TOML."""
    lines: list[str] = []
    for table, values in config.items():
        lines.append(f"[{table}]")
        lines += [f"{key} = {_toml_value(v)}" for key, v in values.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def bot_command() -> list[str]:
    """The ``medcrypt-bot`` console script next to this interpreter, else ``-m bot``."""
    found = Path(sys.executable).with_name("medcrypt-bot")
    return [str(found)] if found.exists() else [sys.executable, "-m", "medcrypt.bot"]


def opener_command() -> list[str]:
    """The ``medcrypt-breakglass`` console script next to this interpreter, else ``-m``."""
    found = Path(sys.executable).with_name("medcrypt-breakglass")
    return [str(found)] if found.exists() else [sys.executable, "-m", "medcrypt.opener.cli"]


@dataclass
class Operator:
    """Runs ``medcrypt-bot`` commands at the clinic's console, and the offline opener
    (a subprocess each)."""

    environ: dict[str, str]
    config: Path | None = None

    async def run(self, *args: str) -> str:
        config = ["--config", str(self.config)] if self.config is not None else []
        return await self._exec(bot_command(), *config, *args)

    async def open_offline(self, *args: str) -> str:
        """``medcrypt-breakglass`` on the share holders' offline machine (no bot config)."""
        return await self._exec(opener_command(), *args)

    async def _exec(self, program: list[str], *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            *program, *args, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env={**os.environ, **self.environ})
        out, err = await proc.communicate()
        if proc.returncode != 0:
            words = [a for a in args if not a.startswith("-")][:2]
            raise MedCryptError(f"{Path(program[-1]).name} {' '.join(words)} "
                                f"failed ({proc.returncode}): "
                                f"{err.decode(errors='replace').strip()[:300]}")
        return out.decode()


@dataclass(frozen=True)
class EscrowSetup:
    shares: dict[str, str]  # holder -> SLIP-39 mnemonic
    public_b64: str  # standard base64, for the physician's companion
    public_config: str  # base64url, for the bot's [clinic] section


_SHARE = re.compile(r"^--- share \d+ of \d+ for (.+) ---\n(.+)$", re.MULTILINE)
_COMPANION_KEY = re.compile(r"--escrow-key ([A-Za-z0-9+/=]+)")
_CONFIG_KEY = re.compile(r'^escrow_public_key = "([A-Za-z0-9_-]+)"$', re.MULTILINE)


def parse_escrow_init(text: str) -> EscrowSetup:
    """The shares and public key printed by ``medcrypt-bot escrow init``."""
    shares = {holder: words.strip() for holder, words in _SHARE.findall(text)}
    companion = _COMPANION_KEY.search(text)
    config = _CONFIG_KEY.search(text)
    if not shares or companion is None or config is None:
        raise MedCryptError("escrow init printed no shares or no public key")
    return EscrowSetup(shares, companion.group(1), config.group(1))


def demo_secrets() -> dict[str, str]:
    """Fresh server and audit keys for one demo run (never reused, never written)."""
    return {"MEDCRYPT_SERVER_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode(),
            "MEDCRYPT_AUDIT_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode()}


def say(who: str, text: str) -> None:
    print(f"  {who:<10} {text}")


async def clinic_setup(clock: TravelClock) -> tuple[Operator, EscrowSetup]:
    """``escrow init`` 2-of-3 at the clinic's console; the shares go to three holders."""
    print("0. Clinic setup (offline, once): the escrow key for break-glass, 2 of 3")
    operator = Operator(demo_secrets())
    printed = await operator.run("escrow", "init", "--shares", "3", "--threshold", "2",
                                 "--labels", "Dr A,Dr B,Director C")
    escrow = parse_escrow_init(printed)
    for holder, words in escrow.shares.items():
        w = words.split()
        say("escrow", f"share given to {holder:<10}: {w[0]} {w[1]} … {w[-2]} {w[-1]} "
                      f"({len(w)} words)")
    say("escrow", f"public key {escrow.public_config[:16]}… → bot [clinic] "
                  "escrow_public_key and the physician's companion (medcrypt init "
                  "--escrow-key)")
    say("clock", f"the demo's calendar starts at {clock.now():%Y-%m-%d %H:%M} UTC")
    return operator, escrow
