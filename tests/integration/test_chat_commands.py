"""Lifecycle and audit commands through the sandbox against the live BotApp."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from medcrypt.bot.commands.audit_verify import BAD_WITNESS
from medcrypt.bot.commands.help import member_help
from medcrypt.bot.domain import notices
from medcrypt.crypto.keyless.tags import tag_of_hex
from medcrypt.crypto.keyless.wire import parse_token
from medcrypt.crypto.server.audit import Action
from medcrypt.storage.models.audit import AuditEntry
from medcrypt.storage.models.escrow import EscrowDeposit
from medcrypt.storage.models.tokens import StoredToken
from tests.support.conversation import pair, say
from tests.support.rigs import ADMIN_A, ADMIN_B, PATIENT_WA, PHYSICIAN_TG, Rig, until

CONFIRM_RE = re.compile(r"send: (/shred \S+ [0-9A-Z]{10})")


def _tokens(rig: Rig, pairing_id: bytes) -> int:
    with rig.bot.sessions() as s:
        return sum(int(s.scalar(select(func.count()).select_from(m).where(
            m.pairing_id == pairing_id.hex())) or 0) for m in (StoredToken, EscrowDeposit))


def _actions(rig: Rig) -> list[str]:
    with rig.bot.sessions() as s:
        return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


async def test_jobs_rotate_now_and_refusals(live: Rig) -> None:
    conv = await pair(live)
    await say(live, conv, "physician", "Blood results are fine.")
    listing = await live.tg_says(ADMIN_A, "/jobs", expect="rotation")
    assert "shred_sweep" in listing
    refused = await live.tg_says(PHYSICIAN_TG, "/jobs", expect="admins only")
    assert refused == notices.ADMIN_ONLY
    await live.tg_says(ADMIN_A, "/rotate_now", expect="Usage: /rotate_now")
    done = await live.tg_says(ADMIN_A, f"/rotate_now {conv.pairing_id.hex()[:10]}",
                              expect="Rotation bookkeeping done")
    assert "Pairings: 1;" in done
    await live.tg_says(ADMIN_B, "/rotate_now all", expect="Rotation bookkeeping done")
    actions = _actions(live)
    assert Action.ADMIN_REFUSED.value in actions and Action.BOT_STARTED.value in actions


async def test_shred_on_demand_refuses_the_current_month_too(live: Rig) -> None:
    conv = await pair(live)
    await say(live, conv, "physician", "Take 5 mg tonight.")
    await say(live, conv, "patient", "Will do.")
    assert _tokens(live, conv.pairing_id) >= 2
    pid = conv.pairing_id.hex()
    ask = await live.tg_says(ADMIN_A, f"/shred {pid[:8]}", expect="To confirm")
    match = CONFIRM_RE.search(ask)
    assert match, ask
    wrong = await live.tg_says(ADMIN_A, f"/shred {pid[:8]} ABCDEFGH00", expect="Nothing was")
    assert "not one this bot gave out" in wrong
    ask = await live.tg_says(ADMIN_A, f"/shred {pid[:8]}", expect="To confirm")
    match = CONFIRM_RE.search(ask)
    assert match
    other_admin = await live.tg_says(ADMIN_B, match.group(1), expect="Nothing was")
    assert "only the person who asked" in other_admin  # bound to the admin who asked
    ask = await live.tg_says(ADMIN_A, f"/shred {pid[:8]}", expect="To confirm")
    match = CONFIRM_RE.search(ask)
    assert match
    done = await live.tg_says(ADMIN_A, match.group(1), expect="Shredded pairing")
    assert "both members were told" in done
    assert _tokens(live, conv.pairing_id) == 0
    await until(lambda: any("destroyed" in t.lower() or "shredded" in t.lower()
                            for t in live.tg_texts(PHYSICIAN_TG)), timeout=5)

    # The companion still has this month's key; the relay refuses it: the pairing ended.
    token, _ = conv.send("physician", "Are you there?")
    refusal = await live.tg_says(PHYSICIAN_TG, token, expect="Not sent")
    assert f"the clinic shredded conversation {tag_of_hex(pid)}" in refusal
    assert "ended for good" in refusal
    assert token not in live.wa_texts()
    assert _tokens(live, conv.pairing_id) == 0
    raw = parse_token(token).raw
    assert raw not in live.db.read_bytes()


async def test_help_lists_admin_commands_only_for_admins(live: Rig) -> None:
    admin_help = await live.tg_says(ADMIN_A, "/help", expect="Clinic admin commands")
    for command in ("/jobs", "/rotate_now", "/shred", "/breakglass", "/approve", "/deny",
                    "/audit_head", "/audit_verify"):
        assert command in admin_help
    user_help = await live.tg_says(PHYSICIAN_TG, "/help", expect="secure relay")
    assert user_help == member_help()
    assert "/delete_me" in user_help and "/shred" not in user_help


@pytest.mark.parametrize("checkpoint_every", [3])
async def test_checkpoints_are_witnessed_in_admin_chats_and_verify(live: Rig) -> None:
    for admin in (ADMIN_A, ADMIN_B):  # Telegram delivers only to chats that were started
        await live.tg_says(admin, "/help", expect="Clinic admin commands")
    conv = await pair(live)
    for text in ("One.", "Two.", "Three."):
        await say(live, conv, "physician", text)
    for _ in range(3):  # admin commands are audited: enough entries for a checkpoint
        await live.tg_says(ADMIN_B, "/jobs", expect="rotation")

    def witnessed(admin: int) -> list[str]:
        return [t for t in live.tg_texts(admin) if t.startswith("Audit checkpoint")]

    # A checkpoint signed after both admins started their chats reaches both of them.
    await until(lambda: witnessed(ADMIN_B) and witnessed(ADMIN_B)[-1] in witnessed(ADMIN_A))
    witness = witnessed(ADMIN_B)[-1]
    assert "MEDCRYPT-AUDIT v1 seq=" in witness
    assert not any("Audit checkpoint" in m.body for m in live.tw.messages_to(PATIENT_WA)
                   if m.body)
    head = await live.tg_says(ADMIN_B, "/audit_head", expect="Audit head")
    assert "Last checkpoint: seq" in head
    verdict = await live.tg_says(ADMIN_A, "/audit_verify", expect="Audit log")
    assert verdict.startswith("Audit log OK, not witnessed:"), verdict
    assert "signed checkpoints" in verdict
    # The admin pastes the witness line the bot posted here: checked against it.
    line = witness.splitlines()[-1]
    seq = re.search(r"seq=(\d+)", line)
    assert seq
    witnessed = await live.tg_says(ADMIN_A, f"/audit_verify {line}", expect="Audit log")
    assert witnessed.startswith(f"Audit log OK, witnessed up to seq {seq.group(1)}:"), witnessed
    damaged = await live.tg_says(ADMIN_A, f"/audit_verify {line[:60]}", expect="witness line")
    assert damaged == BAD_WITNESS
    refused = await live.tg_says(PHYSICIAN_TG, "/audit_verify", expect="admins only")
    assert refused == notices.ADMIN_ONLY
