"""Attack: a database writer cuts the break-glass history out of the audit log.

The reviewers' attack (issue 12, item 4), run the way they ran it: a real bot on the
sandbox writes the log - pairing, messages, a break-glass request approved by a second
admin, checkpoints signed by the maintenance tick and posted to the admins' chats - and
then someone with write access to the database file, but not the signing key, deletes
the break-glass entries and the checkpoints that cover them, re-chains what follows and
fixes ``audit_head``. The auditor runs the real ``medcrypt-bot audit verify`` process.

Before the coverage rule that exited 0 with "Audit log OK": every hash linked and every
checkpoint left was genuine. Now a log whose entries sit more than the checkpoint
interval after the last checkpoint without being signed fails, whether the bot stayed
stopped or kept running and signed on top of the forged history. What still passes
without witness lines - a cut exactly at a checkpoint, nothing kept after it - is
pinned here too: the verdict says "not witnessed", and the chat's witness lines catch it.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.audit import SIGNING_SEED
from tests.support.audit_attack import Cut, actions_in, cut_history
from tests.support.breakglass import request_and_approve
from tests.support.clocks import MovableClock
from tests.support.conversation import make_escrow, pair, say
from tests.support.rigs import ADMIN_A, ADMIN_B, START, Rig, live_bot, until

SIGNING = {"MEDCRYPT_AUDIT_SIGNING_KEY": base64.b64encode(SIGNING_SEED).decode()}
BREAKGLASS = {"breakglass.requested", "breakglass.approved", "breakglass.exported",
              "breakglass.denied", "admin.refused"}
WITNESS_INTRO = "Audit checkpoint"


@asynccontextmanager
async def _bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    """The real bot with a signing key, two admins, escrow, and a fast maintenance tick."""
    async with live_bot(tmp_path, clock=MovableClock(START), escrow=make_escrow(),
                        environ=SIGNING, export_env=monkeypatch,
                        checkpoint_every_seconds=0.1,
                        clinic={"admin_telegram_ids": [ADMIN_A, ADMIN_B]},
                        audit={"post_checkpoints_to_admins": True}) as rig:
        yield rig


def _checkpoint_seq(rig: Rig) -> int:
    cp = rig.bot.services.audit.head().last_checkpoint
    return cp.seq if cp is not None else 0


async def _signed_since(rig: Rig, seq: int) -> int:
    """Wait for the maintenance tick to sign a checkpoint after ``seq``; its seq."""
    await until(lambda: _checkpoint_seq(rig) > seq)
    return _checkpoint_seq(rig)


async def _clinic_day(rig: Rig) -> None:
    """09:00 pairing and two messages; 11:00 two more (signed); 11:05 break-glass; 12:30
    more messages, signed by the tick - that checkpoint covers the break-glass entries."""
    for admin in (ADMIN_A, ADMIN_B):  # Telegram delivers only to chats that were started
        await rig.tg_says(admin, "/help", expect="Clinic admin commands")
    conv = await pair(rig)
    await say(rig, conv, "physician", "Your potassium is high; stop the spironolactone.")
    await say(rig, conv, "patient", "Stopped it.")
    first = await _signed_since(rig, 0)
    rig.clock.set(START + timedelta(hours=2))  # type: ignore[attr-defined]
    await say(rig, conv, "patient", "Feeling dizzy since this morning.")
    await say(rig, conv, "physician", "Sit down and drink some water.")
    before_bg = await _signed_since(rig, first)
    rig.clock.set(START + timedelta(hours=2, minutes=5))  # type: ignore[attr-defined]
    await request_and_approve(rig, conv.pairing_id.hex())
    rig.clock.set(START + timedelta(hours=3, minutes=30))  # type: ignore[attr-defined]
    await say(rig, conv, "physician", "Go to the emergency department now.")
    await say(rig, conv, "patient", "On my way.")
    last = await _signed_since(rig, before_bg)
    # The witness file the tests keep is what reached the admins' chat: wait until the
    # line of the checkpoint over the break-glass entries is delivered, or a bot stopped
    # right after signing it (the tests leave the bot then) never posts it.
    await until(lambda: any(f"seq={last} " in t for t in rig.tg_texts(ADMIN_A)))
    assert BREAKGLASS & set(actions_in(rig.db))


def _verify(rig: Rig, *extra: str) -> subprocess.CompletedProcess[str]:
    """``medcrypt-bot audit verify`` as the auditor runs it: its own process, wall clock."""
    env = {**os.environ, **rig.environ}
    env.pop("MEDCRYPT_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "medcrypt.bot", "--config", str(rig.config), "audit", "verify",
         *extra], capture_output=True, text=True, env=env, timeout=120, check=False)


def _witness_file(rig: Rig, tmp_path: Path) -> Path:
    lines = [t for t in rig.tg_texts(ADMIN_A) if t.startswith(WITNESS_INTRO)]
    assert lines, "no witness line reached the admins' chat"
    path = tmp_path / "witness.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _cut_looks_clean(cut: Cut, rig: Rig) -> None:
    """The forgery is the reviewers': no break-glass entry left, the chain relinked."""
    assert cut.removed_checkpoints >= 1 and cut.removed_entries >= 3
    assert not BREAKGLASS & set(actions_in(rig.db))


async def test_cut_history_with_the_bot_stopped_fails_verification(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _bot(tmp_path, monkeypatch) as rig:
        await _clinic_day(rig)
    cut = cut_history(rig.db, BREAKGLASS)
    _cut_looks_clean(cut, rig)
    assert cut.kept_after_cut >= 2  # the 12:30 messages, re-chained

    done = _verify(rig)
    assert done.returncode == 7, done.stdout + done.stderr
    assert "Audit log OK" not in done.stdout
    assert f"audit chain broken at seq {cut.last_checkpoint_seq + 1}" in done.stderr
    assert "without a signed checkpoint" in done.stderr


async def test_cut_history_under_the_running_bot_is_not_signed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attacker cuts while the bot runs: its next checkpoint would chain onto the
    checkpoint left standing and vouch for the forgery. The bot remembers the newest
    checkpoint it saw, notices the head went back, and signs nothing on top of it."""
    async with _bot(tmp_path, monkeypatch) as rig:
        await _clinic_day(rig)
        cut = cut_history(rig.db, BREAKGLASS)
        _cut_looks_clean(cut, rig)
        # Ten minutes later: maintenance ticks and an audited admin command, both of
        # which would sign (the last checkpoint standing is 100 minutes old).
        rig.clock.set(START + timedelta(hours=3, minutes=40))  # type: ignore[attr-defined]
        await rig.tg_says(ADMIN_B, "/jobs", expect="rotation")
        await asyncio.sleep(1.0)  # ten maintenance ticks
        signed = _checkpoint_seq(rig)
        assert signed == cut.last_checkpoint_seq, f"the bot signed seq {signed} over the cut"
        assert rig.bot.services.audit.rewound
        done = _verify(rig)
    assert done.returncode == 7, done.stdout + done.stderr
    assert "Audit log OK" not in done.stdout
    assert f"audit chain broken at seq {cut.last_checkpoint_seq + 1}" in done.stderr
    assert "without a signed checkpoint" in done.stderr


async def test_cut_exactly_at_a_checkpoint_is_not_witnessed_and_the_witness_catches_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limit: nothing kept after the last surviving checkpoint and the bot stopped.

    The log is then indistinguishable from one whose bot stopped there, so the verdict
    must not claim more than it checked - and the witness lines the admins kept must
    fail it.
    """
    async with _bot(tmp_path, monkeypatch) as rig:
        await _clinic_day(rig)
    witness = _witness_file(rig, tmp_path)
    cut = cut_history(rig.db, BREAKGLASS, keep_later=False)
    _cut_looks_clean(cut, rig)
    assert cut.kept_after_cut == 0 and cut.head_seq == cut.last_checkpoint_seq

    done = _verify(rig)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Audit log OK, not witnessed:"), done.stdout

    caught = _verify(rig, "--witness", str(witness))
    assert caught.returncode == 7, caught.stdout + caught.stderr
    assert "log truncated" in caught.stderr
