"""Attack: a backup taken before ``/shred`` brings the shredded conversation back.

The story: a clinic takes nightly backups. A patient's phone is stolen; an admin runs
``/shred`` and the bot deletes every stored token and escrow deposit of the pairing and
ends it. A week later the database disk fails and the operator restores last night's
backup - which predates the shred. Without the erasure record the restored database
holds the deposits again (the clinic's 2-of-3 escrow can open them) and the pairing is
live: the thief's copied keystore gets next month's messages relayed once more.

Through the real bot on the sandbox and the real CLI (``python -m medcrypt.bot``): the
restore must re-apply the shred *before* the bot serves anything, and ``audit verify``
with the witness line posted after the shred must report the restore, not a rewrite.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import sqlite3
import subprocess
import sys
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
import tomli_w

from tests.support.clocks import MovableClock
from tests.support.conversation import make_escrow, pair, say
from tests.support.rigs import (
    ADMIN_A,
    ADMIN_B,
    PATIENT_WA,
    PHYSICIAN_TG,
    START,
    Rig,
    live_bot,
    until,
)

SIGNING_ENV = "MEDCRYPT_AUDIT_SIGNING_KEY"
CONFIRM_RE = re.compile(r"send: (/shred \S+ [0-9A-Z]{10})")
REFUSED = "Not sent: the clinic shredded"


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "medcrypt.bot", "--config", str(config), *args],
                          capture_output=True, text=True, env=os.environ.copy(), check=False,
                          timeout=180)


async def _shred(rig: Rig, pairing_hex: str) -> None:
    ask = await rig.tg_says(ADMIN_A, f"/shred {pairing_hex[:8]}", expect="To confirm")
    match = CONFIRM_RE.search(ask)
    assert match, ask
    await rig.tg_says(ADMIN_A, match.group(1), expect="Shredded pairing")


def _rows(db: Path, pairing_hex: str) -> tuple[int, set[str], str]:
    """(escrow deposits, epoch states, pairing status) of one pairing, read directly."""
    with sqlite3.connect(db) as conn:
        deposits = conn.execute("SELECT count(*) FROM escrow_deposits WHERE pairing_id = ?",
                                (pairing_hex,)).fetchone()[0]
        states = {r[0] for r in conn.execute("SELECT state FROM epochs WHERE pairing_id = ?",
                                             (pairing_hex,))}
        status = conn.execute("SELECT status FROM pairings WHERE pairing_id = ?",
                              (pairing_hex,)).fetchone()[0]
    return int(deposits), states, str(status)


def _bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, environ: dict[str, str],
         record: Path) -> AbstractAsyncContextManager[Rig]:
    return live_bot(tmp_path, clock=MovableClock(START), escrow=make_escrow(), environ=environ,
                    export_env=monkeypatch, checkpoint_every_seconds=0.2,
                    clinic={"admin_telegram_ids": [ADMIN_A, ADMIN_B]},
                    audit={"post_checkpoints_to_admins": True},
                    backup={"erasure_record_path": str(record)})


async def test_a_backup_from_before_a_shred_restores_shredded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "other-disk"
    elsewhere.mkdir()
    record = elsewhere / "erasure-record"  # outside the backup set
    backup_file = tmp_path / "nightly.mcbackup"
    environ = {SIGNING_ENV: base64.b64encode(os.urandom(32)).decode(),
               "MEDCRYPT_SERVER_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode()}
    config = tmp_path / "cli.toml"
    config.write_text(tomli_w.dumps({"database": {"url": f"sqlite:///{tmp_path / 'bot.db'}"},
                                     "backup": {"erasure_record_path": str(record)}}))
    async with _bot(tmp_path, monkeypatch, environ, record) as rig:
        conv = await pair(rig)
        await say(rig, conv, "physician", "Your biopsy results are in; call me.")
        await say(rig, conv, "patient", "Calling this afternoon.")
        pid = conv.pairing_id.hex()
        # The nightly backup, taken online while the bot runs.
        made = await asyncio.to_thread(_cli, config, "backup", "create", str(backup_file))
        assert made.returncode == 0, made.stderr
        assert _rows(rig.db, pid)[0] > 0  # the backup holds the pairing's deposits
        await _shred(rig, pid)
        assert _rows(rig.db, pid)[0] == 0
        # The checkpoint after the shred, as the admins' chat keeps it.
        signed = await asyncio.to_thread(_cli, config, "audit", "checkpoint")
        assert signed.returncode == 0, signed.stderr
        witness = tmp_path / "witness.txt"
        witness.write_text(signed.stdout)

    # The disk fails; the operator restores last night's backup over it.
    for lost in ("bot.db", "bot.db-wal", "bot.db-shm"):
        (tmp_path / lost).unlink(missing_ok=True)
    restored = await asyncio.to_thread(_cli, config, "backup", "restore", str(backup_file),
                                       "--yes")
    assert restored.returncode == 0, restored.stderr
    deposits, states, status = _rows(tmp_path / "bot.db", pid)
    assert (deposits, states, status) == (0, {"shredded"}, "unpaired")
    record_text = record.read_text()
    assert pid not in record_text and PATIENT_WA not in record_text

    verdict = await asyncio.to_thread(_cli, config, "audit", "verify", "--witness", str(witness))
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr
    assert "Restored from a backup" in verdict.stdout
    assert "1 witness lines belong to the history a restore lost" in verdict.stdout

    # Served again: the physician's next token of that pairing is refused, not relayed.
    async with _bot(tmp_path, monkeypatch, environ, record) as rig:
        token, _deposit = conv.send("physician", "Are the new tablets helping?")
        rig.tg.user_sends_text(PHYSICIAN_TG, token)
        await until(lambda: any(REFUSED in t for t in rig.tg_texts(PHYSICIAN_TG)))
        assert token not in rig.wa_texts()
