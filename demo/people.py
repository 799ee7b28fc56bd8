"""The two people of the demo: a companion each, run as the real ``medcrypt`` program.

Each person has a temporary home (keystore) and runs the companion as a subprocess of
the installed ``medcrypt`` console script, exactly as a user would; nothing here
imports companion code (the bot must not, and the demo is part of the bot).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from medcrypt.crypto.errors import MedCryptError

#: Demo-only passphrase for the throw-away keystores (never used outside the temp dir).
DEMO_PASSPHRASE = "demo only - throwaway keystore"  # noqa: S105


def companion_command() -> list[str]:
    """The ``medcrypt`` console script next to this interpreter, else ``python -m``."""
    found = Path(sys.executable).with_name("medcrypt")
    if found.exists():
        return [str(found)]
    which = shutil.which("medcrypt")
    return [which] if which else [sys.executable, "-m", "medcrypt.companion"]


class Person:
    """One person's companion. ``now`` (the demo's travelling clock) is handed to every
    run as ``MEDCRYPT_NOW``, so the companion rotates and shreds by the demo's calendar."""

    def __init__(self, name: str, role: str, home: Path,
                 now: Callable[[], datetime] | None = None) -> None:
        self.name = name
        self.role = role
        self.home = home
        self.now = now
        self.saw: list[str] = []

    async def attempt(self, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
        """Run the companion; ``(exit status, stdout, stderr)`` whatever the outcome."""
        # The story reads the companion's lines ("From <label> (tag):"): English whatever
        # the machine's locale (the companion follows it otherwise, ADR 0035 amendment 2).
        env = {**os.environ, "MEDCRYPT_PASSPHRASE": DEMO_PASSPHRASE,
               "MEDCRYPT_HOME": str(self.home), "MEDCRYPT_LANG": "en"}
        if self.now is not None:
            env["MEDCRYPT_NOW"] = self.now().isoformat()
        proc = await asyncio.create_subprocess_exec(
            *companion_command(), "--home", str(self.home), *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env)
        out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
        return (proc.returncode or 0, out.decode(errors="replace"),
                err.decode(errors="replace").strip())

    async def run(self, *args: str, stdin: str | None = None) -> str:
        status, out, err = await self.attempt(*args, stdin=stdin)
        if status != 0:
            raise MedCryptError(f"companion {args[0]} failed ({status}): {err[:300]}")
        return out

    async def run_json(self, *args: str, stdin: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(await self.run(*args, "--json", stdin=stdin))
        return data
