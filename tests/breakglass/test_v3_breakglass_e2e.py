"""v3 break-glass through the real bot: deposits the bot stripped, the pinned-key record
the physician's companion sent, a key the clinic enrolled, the quorum's offline opener.

What must hold (issue 13): one month's deposits and the escrow private key open that
month's messages and no other month's; a deposit not signed by the pinned sender key is
refused and reported while the rest opens; the record counts only when the *enrolled*
key signed it, never a key the bot or the bundle supplies.
"""

from __future__ import annotations

import base64
import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from medcrypt.bot.cli import main as bot_main
from medcrypt.crypto.endpoint.session import IdentityKey
from medcrypt.crypto.endpoint.v3.breakglass import open_bundle
from medcrypt.crypto.endpoint.v3.deposit import make_deposit
from medcrypt.crypto.keyless import v3wire
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.crypto.keyless.record_wire import encode_record_token
from medcrypt.crypto.keyless.wire import Direction, encode_token
from medcrypt.opener.cli import main as open_main
from tests.support.admins import wa_confirmed
from tests.support.conversation import Escrow
from tests.support.rigs import ADMIN_A, ADMIN_B, PATIENT_WA, PHYSICIAN_TG, START, Rig, until
from tests.support.v3pairing import replies_to, send
from tests.support.v3relay import V3Chat, deliver, pair_v3, rows

DECEMBER = START.replace(month=12, day=2)
JANUARY = START.replace(year=2027, month=1, day=2)


def _escrow(rig: Rig) -> Escrow:
    assert rig.escrow is not None
    return rig.escrow


async def _told(rig: Rig, account: str | int, text: str, words: str) -> None:
    before, _ = await send(rig, account, text)
    await until(lambda: any(words in r for r in replies_to(rig, account)[before:]))


async def _month(rig: Rig, chat: V3Chat, at: datetime) -> list[str]:
    """One exchange in the month of ``at``: physician writes, patient answers. Returns
    the token texts as sent (deposits included)."""
    rig.clock.set(at)  # type: ignore[attr-defined]
    tag = at.strftime("%b").lower()
    sent = []
    for sender, recipient, mine, peer in ((PHYSICIAN_TG, PATIENT_WA, chat.physician,
                                           chat.patient),
                                          (PATIENT_WA, PHYSICIAN_TG, chat.patient,
                                           chat.physician)):
        text = mine.encrypt(f"{tag} from {'doctor' if mine is chat.physician else 'patient'}"
                            .encode(), now=at)
        got = await deliver(rig, sender, recipient, text)
        peer.decrypt(got, now=at)
        sent.append(text)
    return sent


async def _send_record(rig: Rig, chat: V3Chat) -> None:
    token = encode_token(encode_record_token(chat.pairing_id, chat.pinned_record(),
                                             chat.escrow_public))
    await _told(rig, PHYSICIAN_TG, token, "Pairing record stored")


def _enrol(rig: Rig, key: bytes, typed: str) -> int:
    from medcrypt.bot.domain.enrolment import fingerprint

    assert fingerprint(key)  # the companion shows this; the admin types it back
    return bot_main(["--config", str(rig.config), "physicians", "enrol",
                     base64.b64encode(key).decode(), "--label", "Dr. Example",
                     "--fingerprint", typed])


async def _request_and_approve(rig: Rig, pairing_hex: str) -> bytes:
    reply = await rig.tg_says(ADMIN_A, f"/breakglass {pairing_hex[:12]} patient unconscious",
                              expect="opened")
    code = reply.split("request ")[1][:10]
    await rig.tg_says(ADMIN_B, f"/approve {code}", expect="approved")
    await until(lambda: any(m.document for m in rig.tg.messages_to(ADMIN_A)))
    doc = next(m for m in rig.tg.messages_to(ADMIN_A) if m.document)
    assert doc.document is not None
    return doc.document


def _open(rig: Rig, bundle: bytes, tmp_path: Path, key: bytes | None) -> tuple[int, Path]:
    tmp_path.mkdir()
    path = tmp_path / "bundle.mcbg"
    path.write_bytes(bundle)
    out = tmp_path / "opened"
    argv = ["open", str(path),
            "--share", _escrow(rig).shares[0], "--share", _escrow(rig).shares[2],
            "--out", str(out)]
    if key is not None:
        argv += ["--physician-key", base64.b64encode(key).decode()]
    return open_main(argv), out


def _texts(out: Path) -> list[str]:
    return [json.loads(line)["text"] for line in (out / "messages.jsonl").read_text()
            .splitlines()]


async def test_one_months_stored_deposits_open_that_month_and_no_other(rig: Rig) -> None:
    chat = await pair_v3(rig, _escrow(rig).public)
    sent = [t for at in (START, DECEMBER, JANUARY) for t in await _month(rig, chat, at)]
    assert len(sent) == 6
    relayed = [v3wire.encode_text(bytes(r[0]))
               for r in rows(rig, "SELECT raw FROM stored_tokens ORDER BY id")]
    assert len(relayed) == 6 and all(v3wire.parse_message_text(t).deposit is None
                                     for t in relayed)
    december = [bytes(r[0]) for r in rows(
        rig, "SELECT raw FROM segment_deposits WHERE epoch = ?", epoch_of(DECEMBER))]
    assert december
    report = open_bundle(_escrow(rig).private, chat.pinned_keys(), december, relayed)
    assert sorted(m.body for m in report.opened) == [b"dec from doctor", b"dec from patient"]
    assert {m.epoch for m in report.opened} == {epoch_of(DECEMBER)}
    assert len(report.unopened) == 4 and not report.refused_deposits


async def test_breakglass_verifies_the_record_against_the_enrolled_key_and_skips_a_forged_deposit(
        rig: Rig, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chat = await pair_v3(rig, _escrow(rig).public)
    await _send_record(rig, chat)
    # The patient cannot file a record, and a repeat changes nothing.
    await _told(rig, PATIENT_WA, encode_token(encode_record_token(
        chat.pairing_id, chat.pinned_record(), chat.escrow_public)), "Not stored")
    assert rows(rig, "SELECT count(*) FROM pinned_records") == [(1,)]
    # Enrolment: in person, the fingerprint typed back; a wrong one is refused.
    assert _enrol(rig, chat.physician_identity.public, "0" * 16) != 0
    from medcrypt.bot.domain.enrolment import fingerprint

    assert _enrol(rig, chat.physician_identity.public,
                  fingerprint(chat.physician_identity.public)[:16]) == 0
    sent = await _month(rig, chat, START)
    # The patient's account sends its own token again with a deposit it forged for its
    # own slot: a chain key of its choosing, signed by a key that is not the pinned one.
    real = v3wire.parse_message_text(sent[1])
    forged = make_deposit(
        chat.escrow_public, IdentityKey.generate().sign, pairing_id=chat.pairing_id,
        transcript_hash=chat.transcript_hash, epoch=real.header.epoch,
        direction=Direction.PATIENT_TO_PHYSICIAN, chain_id=real.header.chain_id,
        start_index=0, chain_key=os.urandom(32))
    await deliver(rig, PATIENT_WA, PHYSICIAN_TG, v3wire.encode_text(v3wire.encode_message(
        real.header.raw, forged, real.body.tobytes())))
    assert len(rows(rig, "SELECT id FROM segment_deposits WHERE direction = 0")) == 2
    bundle = await _request_and_approve(rig, chat.pairing_id.hex())
    # Without the enrolled key from the clinic's register nothing opens.
    status, _out = _open(rig, bundle, tmp_path / "a", None)
    assert status != 0
    # A key that is not the enrolled one (whatever the bot or the bundle might claim).
    status, _out = _open(rig, bundle, tmp_path / "b", IdentityKey.generate().public)
    assert status != 0 and "no pinned-key record" in capsys.readouterr().err
    status, out = _open(rig, bundle, tmp_path / "c", chat.physician_identity.public)
    assert status == 0
    assert sorted(set(_texts(out))) == ["nov from doctor", "nov from patient"]
    err = capsys.readouterr().err
    assert "deposit" in err and "not signed by the pinned sender" in err
    skipped = json.loads((out / "manifest.json").read_text())["skipped"]
    assert any("not signed by the pinned sender" in line for line in skipped)


def test_enrolment_is_in_person_audited_listed_and_revocable(
        rig: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    from medcrypt.bot.domain.enrolment import fingerprint

    key = IdentityKey.generate().public
    text = base64.b64encode(key).decode()
    assert _enrol(rig, key, fingerprint(key)[:15]) != 0  # too short to be a check
    assert _enrol(rig, key, fingerprint(key)[:16]) == 0
    assert _enrol(rig, key, fingerprint(key)[:16]) == 0  # again: unchanged
    config = ["--config", str(rig.config), "physicians"]
    capsys.readouterr()
    assert bot_main([*config, "list"]) == 0
    listed = capsys.readouterr().out
    assert text in listed and "enrolled" in listed and fingerprint(key)[:16] in listed
    assert bot_main([*config, "revoke", text]) == 0
    assert bot_main([*config, "revoke", text]) == 1
    assert bot_main([*config, "list"]) == 0
    assert "revoked" in capsys.readouterr().out
    commands = [dict(e.details or {}).get("command") for e in rig.audit_log().export()]
    assert commands.count("physician_enrol") == 1 and commands.count("physician_revoke") == 1


async def test_erasure_leaves_no_deposit_token_or_record_of_the_pairing(rig: Rig) -> None:
    chat = await pair_v3(rig, _escrow(rig).public)
    await _send_record(rig, chat)
    await _month(rig, chat, START)
    held = ("segment_deposits", "stored_tokens", "pinned_records")
    assert all(rows(rig, f"SELECT count(*) FROM {t}") != [(0,)] for t in held)
    result = await wa_confirmed(rig, PATIENT_WA, "/delete_me")
    assert result.http_status == 200
    for table in held:
        assert rows(rig, f"SELECT count(*) FROM {table}") == [(0,)], table
