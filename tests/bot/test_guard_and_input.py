"""Plaintext guard and bad input: a clear reply each time, nothing relayed or stored."""

from __future__ import annotations

import asyncio
import os

from sqlalchemy import func, select

from medcrypt.bot.domain import notices
from medcrypt.bot.domain.config import ClinicSettings
from medcrypt.crypto.keyless.wire import Direction
from medcrypt.storage.models.audit import AuditEntry
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.outbox import OutboxMessage
from medcrypt.storage.models.tokens import StoredToken
from tests.support.admins import CODE_RE
from tests.support.rigs import PATIENT_WA, PHYSICIAN_TG, Rig
from tests.support.tokens import message_token, now_epoch, pair

EMERGENCY_TEXT = ClinicSettings().emergency_text

MARKER = "PLAINTEXT-MARKER-diabetes-7731"


def count(rig: Rig, model: type) -> int:
    with rig.bot.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


async def last_tg_text(rig: Rig, chat: int, n: int) -> str:
    sent = await rig.tg.wait_for_messages_async(chat, n, timeout=10)
    return sent[-1].text or ""


async def test_plaintext_from_paired_user_is_blocked_deleted_and_not_stored(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    before_wa = len(rig.tw.messages_to(PATIENT_WA))
    n = len(rig.tg.messages_to(PHYSICIAN_TG))
    mid = rig.tg.user_sends_text(PHYSICIAN_TG, f"Your HbA1c is high {MARKER}")
    assert (await last_tg_text(rig, PHYSICIAN_TG, n + 1)).startswith(notices.PLAINTEXT_BLOCKED)
    await asyncio.sleep(0.3)
    user_msg = rig.tg.user_message(PHYSICIAN_TG, mid)
    assert user_msg is not None and user_msg.deleted
    assert len(rig.tw.messages_to(PATIENT_WA)) == before_wa  # nothing relayed
    # WhatsApp side: blocked with a reply in the outbox, nothing relayed to Telegram.
    r = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, f"I feel dizzy {MARKER}")
    assert r.http_status == 200
    await rig.tw.wait_until_async(lambda: any(
        m.body.startswith(notices.PLAINTEXT_BLOCKED) for m in rig.tw.messages_to(PATIENT_WA)))
    assert MARKER.encode() not in rig.db.read_bytes()
    wal = rig.db.with_name(rig.db.name + "-wal")
    assert not wal.exists() or MARKER.encode() not in wal.read_bytes()
    assert MARKER.encode() not in rig.tg.request_bytes()
    assert MARKER.encode() not in rig.tw.request_bytes()
    with rig.bot.sessions() as s:  # both blocks are in the hash-chained audit log
        actions = list(s.scalars(select(AuditEntry.action)))
    assert actions.count("relay.plaintext_blocked") == 2
    assert "pairing.consent_recorded" in actions


async def test_unknown_user_gets_a_reply_and_nothing_is_stored(rig: Rig) -> None:
    rig.tg.user_sends_text(777001, "hello, is this the clinic?")
    assert await last_tg_text(rig, 777001, 1) == (
        f"{notices.UNPAIRED_TEXT}\n{notices.emergency(EMERGENCY_TEXT, '', 'en')}")
    r = await rig.tw.user_sends_whatsapp_async("+15559990000", "hello")
    assert r.http_status == 200 and "pair with your physician" in r.response_body
    assert count(rig, PlatformIdentity) == 0
    assert count(rig, OutboxMessage) == 0


async def test_bad_tokens_are_refused_with_reasons(rig: Rig) -> None:
    """Each refusal names its reason; the two that are no well-formed token are also
    guarded (their notice goes on to say the message was removed)."""
    pid = os.urandom(16)
    await pair(rig, pid)
    relayed = count(rig, StoredToken)
    cases = [
        ("[MEDCRYPT:v2:not*base64]", notices.MALFORMED),
        ("[MEDCRYPT:v1:cGlk:bm9uY2U:Y3Q:dGFn]", notices.V1_REFUSED),
        (message_token(os.urandom(16), Direction.PHYSICIAN_TO_PATIENT), notices.UNKNOWN_PAIRING),
        (message_token(pid, Direction.PATIENT_TO_PHYSICIAN), notices.WRONG_SENDER),
        (message_token(pid, Direction.PHYSICIAN_TO_PATIENT, epoch=now_epoch() + 1),
         notices.EPOCH_FUTURE),
        (message_token(pid, Direction.PHYSICIAN_TO_PATIENT, epoch=now_epoch() - 3),
         notices.EPOCH_SHREDDED),
    ]
    for text, expected in cases:
        n = len(rig.tg.messages_to(PHYSICIAN_TG))
        rig.tg.user_sends_text(PHYSICIAN_TG, text)
        assert (await last_tg_text(rig, PHYSICIAN_TG, n + 1)).startswith(expected), expected
    assert count(rig, StoredToken) == relayed


async def test_unknown_kind_and_oversized_and_unencrypted_files(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    from medcrypt.crypto.keyless.wire import encode_token

    raw = bytes([2, 9]) + os.urandom(60)  # version 2, kind 9: no such kind
    n = len(rig.tg.messages_to(PHYSICIAN_TG))
    rig.tg.user_sends_text(PHYSICIAN_TG, encode_token(raw))
    assert (await last_tg_text(rig, PHYSICIAN_TG, n + 1)).startswith(notices.UNKNOWN_KIND)
    # A plain PDF is not an encrypted file.
    rig.tg.user_sends_document(PHYSICIAN_TG, "lab.pdf", b"%PDF-1.7 " + MARKER.encode())
    assert (await last_tg_text(rig, PHYSICIAN_TG, n + 2)).startswith(
        notices.NOT_ENCRYPTED_FILE)
    assert MARKER.encode() not in rig.db.read_bytes()


async def test_oversized_file_is_refused_without_download(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    limit = rig.bot.settings.relay.max_file_bytes
    n = len(rig.tg.messages_to(PHYSICIAN_TG))
    rig.tg.user_sends_document(PHYSICIAN_TG, "scan.mcf", b"M" * (limit + 1))
    text = await last_tg_text(rig, PHYSICIAN_TG, n + 1)
    assert text.startswith("Not sent: the file is larger than")


async def test_commands_and_bad_arguments(rig: Rig) -> None:
    pid = os.urandom(16)
    await pair(rig, pid)
    n = len(rig.tg.messages_to(PHYSICIAN_TG))
    rig.tg.user_sends_text(PHYSICIAN_TG, "/status")
    assert "you are the physician" in await last_tg_text(rig, PHYSICIAN_TG, n + 1)
    rig.tg.user_sends_text(PHYSICIAN_TG, "/unpair now right away")
    assert (await last_tg_text(rig, PHYSICIAN_TG, n + 2)).startswith(
        "That command needs different arguments")
    rig.tg.user_sends_text(PHYSICIAN_TG, "/stats")
    assert await last_tg_text(rig, PHYSICIAN_TG, n + 3) == notices.ADMIN_ONLY
    rig.tg.user_sends_text(PHYSICIAN_TG, "/frobnicate")  # in a paired chat: guarded
    assert (await last_tg_text(rig, PHYSICIAN_TG, n + 4)).startswith(notices.COMMAND_BLOCKED)
    rig.tg.user_sends_text(777002, "/frobnicate")  # outside one: just unknown
    assert await last_tg_text(rig, 777002, 1) == notices.UNKNOWN_COMMAND
    # WhatsApp users type the same commands as plain text.
    r = await rig.tw.user_sends_whatsapp_async(PATIENT_WA, "/status")
    assert r.http_status == 200
    await rig.tw.wait_until_async(lambda: any(
        "you are the patient" in m.body for m in rig.tw.messages_to(PATIENT_WA)))
    assert [e for e, _ in rig.bot.services.auditor.events].count("admin_command_refused") == 1


async def test_a_clinic_with_one_admin_cannot_add_another_in_chat(rig: Rig) -> None:
    """Granting admin needs a second admin person; alone, an admin gets a code that only
    someone else can use (the full round with two admins: tests/admins)."""
    admin = 9990001  # listed in clinic.admin_telegram_ids, the only admin
    rig.tg.user_sends_text(admin, "/admin_add telegram:4242")
    asked = await last_tg_text(rig, admin, 1)
    code = CODE_RE.search(asked)
    assert code, asked
    rig.tg.user_sends_text(admin, f"/admin_add telegram:4242 {code.group(1)}")
    assert "another person" in await last_tg_text(rig, admin, 2)
    rig.tg.user_sends_text(admin, "/admin_add whatsapp:notanumber")
    assert (await last_tg_text(rig, admin, 3)).startswith("That command needs")
    rig.tg.user_sends_text(4242, "/stats")
    assert await last_tg_text(rig, 4242, 1) == notices.ADMIN_ONLY
    rig.tg.user_sends_text(admin, "/admins")
    listing = await last_tg_text(rig, admin, 4)
    assert "telegram …001 (configuration)" in listing and "…242" not in listing
    rig.tg.user_sends_text(admin, "/admin_remove telegram:9990001")
    assert "configured admins change in the config" in await last_tg_text(rig, admin, 5)
