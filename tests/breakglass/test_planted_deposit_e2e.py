"""Attack: a patient plants an escrow deposit in the physician's slot.

Anyone can seal to the clinic's public escrow key, and the deposit token's header names
the direction (whose slot it fills) in the clear. On main the bot stored a deposit from
either member under any direction and kept the first one per slot, so a patient who
sealed a random key under the physician's direction - before the physician's companion
sent its own - made break-glass fail for the whole bundle: "two deposits of one epoch
disagree". The attacker uses only their own WhatsApp account and the public key their
physician's QR code carried.

Two halves: the bot must refuse the planted deposit (and audit the refusal), and a
database that already holds such a row (written by an earlier version) must still open,
the planted deposit skipped with a line in the report.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from medcrypt.bot.domain import notices
from medcrypt.crypto.endpoint.escrow import make_deposit
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.crypto.keyless.wire import Direction, parse_token
from medcrypt.crypto.server.audit import Action
from medcrypt.opener.cli import main as open_main
from medcrypt.storage.repos import escrow
from tests.support.breakglass import request_and_approve
from tests.support.conversation import Conversation, pair, say
from tests.support.rigs import PATIENT_WA, START, Rig, until

CONVERSATION = [
    ("physician", "Your INR is 4.2; skip tonight's warfarin dose."),
    ("patient", "Skipped it. Should I come in tomorrow?"),
    ("physician", "Yes, 9 am, fasting."),
    ("patient", "See you at 9."),
]


def planted_deposit(rig: Rig, conv: Conversation) -> str:
    """What the patient forges: a random key sealed under the physician's direction.

    The identity keys are the real ones (the patient's companion pinned both), so
    nothing but the key is wrong.
    """
    assert rig.escrow is not None
    return make_deposit(
        rig.escrow.public, pairing_id=conv.pairing_id, epoch=epoch_of(START),
        direction=Direction.PHYSICIAN_TO_PATIENT, epoch_key=os.urandom(32),
        patient_identity=conv.physician.peer_identity,
        physician_identity=conv.patient.peer_identity)


def open_bundle(rig: Rig, bundle: bytes, tmp_path: Path) -> tuple[int, Path]:
    """``medcrypt-breakglass open`` with two of the three shares, as the quorum runs it."""
    assert rig.escrow is not None
    path = tmp_path / "bundle.mcbg"
    path.write_bytes(bundle)
    out = tmp_path / "opened"
    status = open_main(["open", str(path),
                       "--share", rig.escrow.shares[0], "--share", rig.escrow.shares[2],
                       "--out", str(out)])
    return status, out


def recovered(out: Path) -> list[str]:
    return [json.loads(line)["text"]
            for line in (out / "messages.jsonl").read_text().splitlines()]


async def test_a_deposit_for_the_other_members_slot_is_refused(
        rig: Rig, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conv = await pair(rig)
    before = len(rig.wa_texts())
    result = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, planted_deposit(rig, conv))
    assert result.http_status == 200
    await until(lambda: len(rig.wa_texts()) > before)
    answer = rig.wa_texts()[before]
    for who, text in CONVERSATION:
        await say(rig, conv, who, text)
    _code, bundle = await request_and_approve(rig, conv.pairing_id.hex())
    capsys.readouterr()
    status, out = open_bundle(rig, bundle, tmp_path)
    err = capsys.readouterr().err
    assert status == 0, err
    assert recovered(out) == [text for _who, text in CONVERSATION]

    # The patient was told, and nothing in the physician's slot came from them.
    assert answer == notices.DEPOSIT_NOT_YOURS, answer
    assert parse_token(conv.deposits[0]).raw in bundle_items(rig, conv)  # the real one
    refused = [e for e in rig.audit_log().export() if e.action == Action.RELAY_REFUSED.value]
    assert [e.details for e in refused] == [{"event": "relay_refused",
                                             "reason": "deposit_not_senders_slot"}]
    assert "skipped" not in err  # nothing to skip: the bundle holds only usable deposits


def bundle_items(rig: Rig, conv: Conversation) -> list[bytes]:
    with rig.bot.sessions() as s:
        return escrow.deposits_raw(s, conv.pairing_id.hex())


async def test_break_glass_skips_a_planted_row_left_by_an_earlier_version(
        rig: Rig, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conv = await pair(rig)
    planted = parse_token(planted_deposit(rig, conv))
    # The row an earlier version stored when the patient sent it: the physician's slot,
    # taken before the physician's companion deposited (whose deposit then changed nothing).
    with rig.bot.sessions.begin() as s:
        assert escrow.store_deposit(s, pairing_id=conv.pairing_id.hex(), epoch=epoch_of(START),
                                    direction=int(Direction.PHYSICIAN_TO_PATIENT),
                                    raw=planted.raw, now=rig.clock.now())
    for who, text in CONVERSATION:
        await say(rig, conv, who, text)
    assert planted.raw in bundle_items(rig, conv)
    _code, bundle = await request_and_approve(rig, conv.pairing_id.hex())
    capsys.readouterr()
    status, out = open_bundle(rig, bundle, tmp_path)
    err = capsys.readouterr().err
    assert status == 0, err
    assert recovered(out) == [text for _who, text in CONVERSATION]
    lines = [line for line in err.splitlines() if "skipped" in line]
    assert len(lines) == 1, err
    assert "2026-11" in lines[0] and "physician_to_patient" in lines[0]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["skipped"] == [lines[0].removeprefix("warning: ")]
