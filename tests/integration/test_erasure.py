"""/delete_me through the sandbox: the erasure job runs before the identity goes."""

from __future__ import annotations

from sqlalchemy import func, select

from medcrypt.bot.commands.delete_me import NOTHING_HELD
from medcrypt.bot.domain import notices
from medcrypt.crypto.keyless.wire import parse_token
from medcrypt.crypto.server.audit import Action
from medcrypt.storage.models.audit import AuditEntry
from medcrypt.storage.models.escrow import EscrowDeposit
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.keytree import Dek
from medcrypt.storage.models.pairings import Pairing
from medcrypt.storage.models.tokens import StoredToken
from medcrypt.storage.repos.identities import find_identity
from tests.support.admins import wa_confirmed
from tests.support.conversation import pair, say
from tests.support.rigs import PATIENT_WA, PHYSICIAN_TG, Rig, until


def _held(rig: Rig) -> int:
    """Relayed messages and escrow deposits the bot keeps for break-glass."""
    with rig.bot.sessions() as s:
        return sum(int(s.scalar(select(func.count()).select_from(m)) or 0)
                   for m in (StoredToken, EscrowDeposit))


def _live_identities(rig: Rig) -> int:
    with rig.bot.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(PlatformIdentity).where(
            PlatformIdentity.deleted_at.is_(None))) or 0)


def _raw(rig: Rig) -> bytes:
    """The SQLite file and its WAL, as bytes on disk."""
    wal = rig.db.with_name(rig.db.name + "-wal")
    return rig.db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def test_delete_me_shreds_the_pairings_epochs_and_erases_the_identity(live: Rig) -> None:
    conv = await pair(live)
    await say(live, conv, "physician", "Your biopsy was benign.")
    await say(live, conv, "patient", "Thank you, what a relief.")
    held = [parse_token(t).raw for t, _, _ in conv.sent] + \
        [parse_token(d).raw for d in conv.deposits]
    assert _held(live) == len(held)
    identities = _live_identities(live)
    assert all(h in _raw(live) for h in held)  # the scan below can see them
    with live.bot.sessions() as s:  # the patient's own DEK (key tree, ADR 0037)
        patient = find_identity(s, live.bot.keyring, "whatsapp", PATIENT_WA)
        assert patient is not None and patient.dek_id is not None
        patient_id, dek_id = patient.id, patient.dek_id
    result = await wa_confirmed(live, PATIENT_WA, "/delete_me")
    assert result.http_status == 200 and notices.DELETED in result.response_body
    assert _held(live) == 0
    assert _live_identities(live) == identities - 1
    with live.bot.sessions() as s:  # the DEK went with the identity; the lookup fails
        dek = s.get(Dek, dek_id)
        assert dek is not None and dek.wrapped is None and dek.destroyed_at is not None
        assert dek.person_id == patient_id
        assert find_identity(s, live.bot.keyring, "whatsapp", PATIENT_WA) is None
    with live.bot.sessions() as s:
        pairing = s.get(Pairing, conv.pairing_id.hex())
        assert pairing is not None and pairing.status == "erased"
        actions = list(s.scalars(select(AuditEntry.action)))
    assert Action.SUBJECT_ERASED.value in actions
    assert Action.EPOCH_SHREDDED.value in actions
    await until(lambda: any("data erased" in t for t in live.tg_texts(PHYSICIAN_TG)))
    raw = _raw(live)
    assert not [h for h in held if h in raw]
    # The companion's token of this month is now refused: the epoch was shredded.
    token, _ = conv.send("physician", "Are you still there?")
    refusal = await live.tg_says(PHYSICIAN_TG, token, expect="Not sent")
    assert refusal in (notices.PAIRING_INACTIVE, notices.UNKNOWN_PAIRING) \
        or "has been shredded" in refusal


async def test_delete_me_from_a_stranger_keeps_nothing(live: Rig) -> None:
    def whatsapp_identities() -> int:
        # Only WhatsApp: the witness posts give configured Telegram admins identities.
        with live.bot.sessions() as s:
            return int(s.scalar(select(func.count()).select_from(PlatformIdentity).where(
                PlatformIdentity.platform == "whatsapp")) or 0)

    assert whatsapp_identities() == 0
    result = await live.tw.user_sends_whatsapp_async("+15559870000", "/delete_me")
    assert result.http_status == 200 and NOTHING_HELD in result.response_body
    assert whatsapp_identities() == 0
