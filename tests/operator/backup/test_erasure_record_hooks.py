"""Every way the bot shreds also writes the erasure record - and nothing personal.

Through the real bot on the sandbox: the grace sweep a month later, then ``/delete_me``.
The record must name each shredded (pairing, month), the erased person, by audit
pseudonym only: no pairing id (it is in every token header), phone number or chat id.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.backup.erasure_record import ErasureRecord
from tests.support.admins import wa_confirmed
from tests.support.clocks import MovableClock
from tests.support.conversation import make_escrow, pair, say
from tests.support.rigs import ADMIN_A, PATIENT_WA, PHYSICIAN_TG, START, live_bot, run_jobs_at

AFTER_GRACE = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)  # November's grace ended Dec 8


async def test_sweep_and_delete_me_are_recorded_by_pseudonym(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "erasure-record"
    async with live_bot(tmp_path, clock=MovableClock(START), escrow=make_escrow(),
                        export_env=monkeypatch, clinic={"admin_telegram_ids": [ADMIN_A]},
                        backup={"erasure_record_path": str(path)}) as rig:
        conv = await pair(rig)
        await say(rig, conv, "physician", "Your biopsy was benign.")
        pid = conv.pairing_id.hex()
        ctx = rig.bot.services
        await run_jobs_at(rig, AFTER_GRACE, "rotation", "shred_sweep")
        record = ErasureRecord(path, Keyring.from_environ(rig.environ))
        swept = list(record.read())
        assert [(f.kind, f.ref, f.epoch) for f in swept] == [
            ("shred", ctx.pairing_ref(pid), epoch_of(START))]

        with sqlite3.connect(rig.db) as conn:
            patient = conn.execute("SELECT patient_id FROM pairings WHERE pairing_id = ?",
                                   (pid,)).fetchone()[0]
        result = await wa_confirmed(rig, PATIENT_WA, "/delete_me")
        assert result.http_status == 200
        facts = list(record.read())[len(swept):]
        assert ("erased", ctx.identity_ref(patient), None) in [
            (f.kind, f.ref, f.epoch) for f in facts]
        assert ("shred", ctx.pairing_ref(pid), epoch_of(AFTER_GRACE)) in [
            (f.kind, f.ref, f.epoch) for f in facts]

    text = path.read_text()
    for identifier in (pid, patient, PATIENT_WA, PATIENT_WA.lstrip("+"), str(PHYSICIAN_TG)):
        assert identifier not in text
