"""Break-glass end to end through the sandbox: chat request, second-admin approval,
bundle to the requester, offline opening with every pair of shares, notices, audit."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from medcrypt.bot.cli import main as bot_main
from medcrypt.opener.cli import main as open_main
from medcrypt.storage.models.breakglass import BreakGlassRequest
from tests.support.breakglass import CODE_RE, request_and_approve
from tests.support.conversation import pair, say
from tests.support.rigs import ADMIN_A, ADMIN_B, PHYSICIAN_TG, Rig, until

CONVERSATION = [
    ("physician", "Your potassium is 5.9 mmol/L; stop the spironolactone."),
    ("patient", "Done. I feel dizzy since this morning."),
    ("physician", "Go to the emergency department now, take this message with you."),
    ("patient", "On my way. Allergic to penicillin, remember."),
]


async def test_request_approve_export_open_notify_audit(rig: Rig, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    conv = await pair(rig)
    for who, text in CONVERSATION:
        await say(rig, conv, who, text)
    code, bundle = await request_and_approve(rig, conv.pairing_id.hex())
    path = tmp_path / "bundle.mcbg"
    path.write_bytes(bundle)
    # Nothing in the bot's database or the chat apps is plaintext.
    raw_db = rig.db.read_bytes() + (rig.db.with_name("bot.db-wal").read_bytes()
                                    if rig.db.with_name("bot.db-wal").exists() else b"")
    for _who, text in CONVERSATION:
        assert text.encode() not in raw_db and text.encode() not in bundle
    with rig.bot.engine.connect() as c:  # the reason is sealed in the request row
        stored = c.exec_driver_sql("SELECT reason FROM breakglass_requests").scalar_one()
    assert b"patient unconscious" not in stored

    # Every pair of the three shares opens it, through the real CLI.
    expected = [text for _who, text in CONVERSATION]
    for n, (s1, s2) in enumerate(itertools.permutations(rig.escrow.shares, 2)):
        out = tmp_path / f"open-{n}"
        argv = ["open", str(path), "--config", str(rig.config),
                "--share", s1, "--share", s2, "--out", str(out)]
        if n == 0:
            argv.append("--record")
        assert open_main(argv) == 0
        lines = (out / "messages.jsonl").read_text().splitlines()
        assert [json.loads(line)["text"] for line in lines] == expected
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["request"] == code and manifest["reason"] == "patient unconscious in ER"
        assert (out / "messages.jsonl").stat().st_mode & 0o077 == 0
    capsys.readouterr()

    # Patient (WhatsApp) and physician (Telegram) are told: time and reason, no content.
    await until(lambda: any("Emergency access notice" in t for t in rig.wa_texts()))
    await until(lambda: any("Emergency access notice" in t for t in rig.tg_texts(PHYSICIAN_TG)))
    notice = next(t for t in rig.wa_texts() if "Emergency access notice" in t)
    assert "2026-11-03 09:00 UTC" in notice and "patient unconscious in ER" in notice
    assert not any(text in notice for text in expected)

    # The audit chain shows request, refusals, approval, export and opening.
    entries = list(rig.audit_log().export())
    actions = [e.action for e in entries]
    for action in ("breakglass.requested", "breakglass.approved", "breakglass.exported",
                   "breakglass.opened"):
        assert actions.count(action) == 1, actions
    assert actions.index("breakglass.requested") < actions.index("breakglass.approved") \
        < actions.index("breakglass.exported") < actions.index("breakglass.opened")
    refused = [e.details for e in entries if e.action == "admin.refused"]
    assert {"command": "approve", "why": "own_request", "request": code} in refused
    assert {"command": "approve", "why": "not_admin"} in refused
    requested = next(e for e in entries if e.action == "breakglass.requested")
    approved = next(e for e in entries if e.action == "breakglass.approved")
    assert requested.actor_ref != approved.actor_ref  # two different admins
    exported = next(e for e in entries if e.action == "breakglass.exported")
    assert exported.details is not None
    assert exported.details["messages"] == 4 and exported.details["deposits"] == 2
    with rig.bot.sessions() as s:
        row = s.scalar(select(BreakGlassRequest).where(BreakGlassRequest.code == code))
        assert row is not None and row.status == "approved" and row.opened_at is not None

    # On the bot host: a file that is not the exported one is not recorded as opened.
    forged = tmp_path / "forged.mcbg"
    forged.write_bytes(bundle[:-1] + bytes([bundle[-1] ^ 1]))
    assert bot_main(["--config", str(rig.config), "breakglass", "record-open",
                     str(forged)]) == 4
    assert "not the file the bot exported" in capsys.readouterr().err
    assert bot_main(["--config", str(rig.config), "breakglass", "record-open", str(path),
                     "--holders", "3"]) == 0
    opened = [e for e in rig.audit_log().export() if e.action == "breakglass.opened"]
    assert [e.details["share_holders"] for e in opened if e.details] == [2, 3]


async def test_deny_closes_the_request(rig: Rig) -> None:
    conv = await pair(rig)
    await say(rig, conv, "physician", "hello")
    reply = await rig.tg_says(ADMIN_A, f"/breakglass {conv.pairing_id.hex()} audit drill test",
                              expect="opened")
    code = CODE_RE.search(reply).group(1)  # type: ignore[union-attr]
    await rig.tg_says(ADMIN_B, f"/deny {code}", expect="denied")
    again = await rig.tg_says(ADMIN_B, f"/approve {code}", expect="is denied")
    assert "nothing to do" in again
    assert not any(m.document for m in rig.tg.messages_to(ADMIN_A))
    assert not any("Emergency access" in t for t in rig.wa_texts())


async def test_non_admin_cannot_request(rig: Rig) -> None:
    conv = await pair(rig)
    await rig.tg_says(PHYSICIAN_TG, f"/breakglass {conv.pairing_id.hex()} curious about it",
                      expect="Only clinic admins")
    with rig.bot.sessions() as s:
        assert s.scalar(select(BreakGlassRequest)) is None
    assert "admin.refused" in [e.action for e in rig.audit_log().export()]


async def test_bad_arguments(rig: Rig) -> None:
    conv = await pair(rig)
    await rig.tg_says(ADMIN_A, "/breakglass", expect="Usage")
    await rig.tg_says(ADMIN_A, f"/breakglass {conv.pairing_id.hex()} x", expect="reason")
    await rig.tg_says(ADMIN_A, "/breakglass 00000000 long enough reason", expect="No pairing")
    await rig.tg_says(ADMIN_B, "/approve nothex", expect="No break-glass request")
    await rig.tg_says(ADMIN_B, "/approve", expect="Usage")


async def test_first_use_of_the_audit_log_is_already_audited(rig: Rig) -> None:
    """The bot prepares its audit log at start, so even the very first break-glass request
    on a fresh database commits together with its audit entry - never unaudited."""
    assert _secret_exists(rig)
    conv = await pair(rig)
    command = f"/breakglass {conv.pairing_id.hex()} first night on call"
    await rig.tg_says(ADMIN_A, command, expect="opened", timeout=5)
    with rig.bot.sessions() as s:
        assert s.scalar(select(BreakGlassRequest)) is not None
    actions = [e.action for e in rig.audit_log().export()]
    assert actions.count("breakglass.requested") == 1


def _secret_exists(rig: Rig) -> bool:
    with rig.bot.engine.connect() as c:
        return c.exec_driver_sql(
            "SELECT 1 FROM audit_secrets WHERE name = 'pseudonym'").first() is not None
