"""v3 pairing with the real ``medcrypt`` CLI on both ends and the real bot between them.

The physician's companion registers its offer in Telegram, the patient answers from
WhatsApp, and what each companion is given is what the chat shows - pasted whole, the
bot's notices included. Each ``medcrypt`` command is the installed console script in its
own process (run in a thread, so the bot keeps serving meanwhile). The masked account the
physician's screen lists is the one the bot reported. A QR photographed and answered from
a second account aborts at the bot and on the physician's screen, and a new QR then pairs.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from medcrypt.crypto.errors import QrShared
from medcrypt.crypto.keyless.wire import Kind
from tests.support.companion import PASSPHRASE, phone_photo
from tests.support.rigs import PATIENT_WA, PHYSICIAN_TG, START, Rig, until
from tests.support.terminal import EXE
from tests.support.v3cli import document
from tests.support.v3pairing import THIEF_WA, replies_to, send, send_and_wait, v3_tokens_to

NOW = START.isoformat()


@dataclass
class Done:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.out)  # type: ignore[no-any-return]


class Cli:
    """``await cli(home, *argv, stdin=...)``: the real console script, one process each."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.env = {**os.environ, "MEDCRYPT_PASSPHRASE": PASSPHRASE, "MEDCRYPT_NOW": NOW}
        self.env.pop("MEDCRYPT_HOME", None)

    async def __call__(self, home: Path, *argv: str, stdin: str = "") -> Done:
        done = await asyncio.to_thread(
            subprocess.run, [EXE, "--home", str(home), *argv], input=stdin,
            capture_output=True, text=True, env=self.env, cwd=self.tmp, timeout=120,
            check=False)
        return Done(done.returncode, done.stdout, done.stderr)

    async def ok(self, home: Path, *argv: str, stdin: str = "") -> Done:
        done = await self(home, *argv, stdin=stdin)
        assert done.code == 0, done.err
        return done


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def _chat(rig: Rig, account: str | int, since: int) -> str:
    return "\n".join(replies_to(rig, account)[since:])


async def _offer(cli: Cli, rig: Rig, doc: Path, name: str) -> str:
    offer = (await cli.ok(doc, "pair", "offer", "--png", f"{name}.png", "--json")).json()
    before, _ = await send(rig, PHYSICIAN_TG, str(offer["registration_token"]))
    await until(lambda: any("registered" in r for r in replies_to(rig, PHYSICIAN_TG)[before:]))
    return f"{name}.png"


async def _answer(cli: Cli, rig: Rig, home: Path, account: str, png: str,
                  seed: int) -> dict[str, object]:
    photo = phone_photo(cli.tmp / png, cli.tmp / f"{home.name}-{seed}.jpg", seed=seed)
    accepted = (await cli.ok(home, "pair", "accept", "--qr", str(photo), "--json",
                             "--no-history")).json()
    await send_and_wait(rig, account, str(accepted["accept_token"]))
    await until(lambda: str(accepted["accept_token"]) in v3_tokens_to(rig, PHYSICIAN_TG,
                                                                     Kind.PAIR_ACCEPT))
    return accepted


async def _homes(cli: Cli, rig: Rig) -> tuple[Path, Path]:
    doc, pat = cli.tmp / "doc", cli.tmp / "pat"
    assert rig.escrow is not None
    escrow = base64.b64encode(rig.escrow.public).decode()
    await cli.ok(doc, "init", "--role", "physician", "--escrow-key", escrow)
    await cli.ok(pat, "init", "--role", "patient")
    return doc, pat


async def test_the_cli_pairs_through_the_bot(live: Rig, cli: Cli) -> None:
    doc, pat = await _homes(cli, live)
    since = len(replies_to(live, PHYSICIAN_TG))
    png = await _offer(cli, live, doc, "offer")
    accepted = await _answer(cli, live, pat, PATIENT_WA, png, seed=1)
    await until(lambda: "account ending in" in _chat(live, PHYSICIAN_TG, since))
    done = await cli.ok(doc, "pair", "complete", "-", "--no-history", "--json", "--code",
                        str(accepted["verification_code"]), stdin=_chat(live, PHYSICIAN_TG, since))
    # The physician's screen listed one valid answer, from the masked account the bot named.
    assert "UNVERIFIED" in done.err and "Valid pairing answers received: 1" in done.err
    assert f"from …{PATIENT_WA[-2:]}" in done.err and PATIENT_WA not in done.err
    assert f"arrived at {START:%H:%M:%S} UTC from a WhatsApp account ending in " \
           f"…{PATIENT_WA[-2:]}" in done.err
    confirm = str(done.json()["key_confirm_token"])
    pat_since = len(replies_to(live, PATIENT_WA))
    await send_and_wait(live, PHYSICIAN_TG, confirm)
    await until(lambda: confirm in v3_tokens_to(live, PATIENT_WA, Kind.KEY_CONFIRM))
    await cli.ok(pat, "pair", "confirm", "-", stdin=_chat(live, PATIENT_WA, pat_since))
    pid = str(accepted["pairing_id"])
    assert document(pat)["pairings"][pid]["verified"]
    assert document(doc)["pairings"][pid]["pinned_record"]
    # Both companions hold the same v3 session: a message goes both ways.
    hello = (await cli.ok(pat, "encrypt", stdin="hello doctor")).out
    assert (await cli.ok(doc, "decrypt", stdin=hello)).out == "hello doctor"


async def test_a_photographed_qr_aborts_at_the_bot_and_on_the_screen(live: Rig,
                                                                    cli: Cli) -> None:
    doc, pat = await _homes(cli, live)
    thief = cli.tmp / "thief"
    await cli.ok(thief, "init", "--role", "patient")
    since = len(replies_to(live, PHYSICIAN_TG))
    png = await _offer(cli, live, doc, "offer")
    real = await _answer(cli, live, pat, PATIENT_WA, png, seed=1)
    stolen = await _answer(cli, live, thief, THIEF_WA, png, seed=2)
    await until(lambda: QrShared.TEXT in _chat(live, PHYSICIAN_TG, since))
    aborted = await cli(doc, "pair", "complete", "-", "--no-history", "--code",
                        str(real["verification_code"]), stdin=_chat(live, PHYSICIAN_TG, since))
    assert aborted.code == 4 and QrShared.TEXT in aborted.err and aborted.out == ""
    assert "Valid pairing answers received: 2" in aborted.err
    assert f"from …{PATIENT_WA[-2:]}" in aborted.err and f"from …{THIEF_WA[-2:]}" in aborted.err
    assert stolen["pairing_id"] == real["pairing_id"]
    # A new QR, answered by the real patient only, pairs.
    since = len(replies_to(live, PHYSICIAN_TG))
    png = await _offer(cli, live, doc, "again")
    fresh = await _answer(cli, live, pat, PATIENT_WA, png, seed=3)
    done = await cli.ok(doc, "pair", "complete", "-", "--no-history", "--json", "--code",
                        str(fresh["verification_code"]), stdin=_chat(live, PHYSICIAN_TG, since))
    confirm = str(done.json()["key_confirm_token"])
    await send_and_wait(live, PHYSICIAN_TG, confirm)
    await until(lambda: confirm in v3_tokens_to(live, PATIENT_WA, Kind.KEY_CONFIRM))
    await cli.ok(pat, "pair", "confirm", confirm)
