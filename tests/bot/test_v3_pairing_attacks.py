"""The v3 pairing hijack variants, through the real bot and the sandbox (issue 13).

v2 bound whoever sent the first PAIR_ACCEPT: a stranger's junk accept was told "You are
now paired" and a QR photo completed the pairing. Each test here plays one attacker
against the real bot with real companion tokens, and then shows the real patient can
still pair. Binding is observed the way the relay sees it: whom the physician's next
message is delivered to.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint.session import IdentityKey
from medcrypt.crypto.endpoint.v3.offer import parse_offer_text_v3
from medcrypt.crypto.endpoint.v3.pairing import PatientPairing, accept_offer_v3
from medcrypt.crypto.endpoint.v3.types import PairingSecrets
from medcrypt.crypto.errors import DecryptionFailed, PairingCancelled, QrShared
from medcrypt.crypto.keyless import pairing_wire as pw
from medcrypt.crypto.keyless.wire import Kind, encode_token, parse_token
from tests.support.rigs import PATIENT_WA, PHYSICIAN_TG, Rig, until
from tests.support.tokens import accept_token as v2_accept_token
from tests.support.v3pairing import (
    STRANGER_TG,
    THIEF_WA,
    Doctor,
    junk_accept,
    reaches,
    register,
    replies_to,
    send_and_wait,
    v3_tokens_to,
)

ABORT = QrShared.TEXT


def _told_paired(replies: list[str]) -> bool:
    return any("paired" in r.lower() and "unpaired" not in r.lower() for r in replies)


async def _accept(rig: Rig, doc: Doctor, account: str | int, side: PatientPairing) -> None:
    """The account sends its accept; the bot forwards it and binds nobody yet."""
    replies = await send_and_wait(rig, account, side.accept_token)
    assert not _told_paired(replies), replies
    await until(lambda: side.accept_token in v3_tokens_to(rig, PHYSICIAN_TG, Kind.PAIR_ACCEPT))


async def _confirm(rig: Rig, doc: Doctor, account: str | int,
                   side: PatientPairing) -> PairingSecrets:
    """Codes compared in person and confirmed; the patient verifies KEY_CONFIRM."""
    screen = doc.pairing.receive_accept(side.accept_token, clock=rig.clock)
    assert screen.code == side.code and screen.banner == "UNVERIFIED"
    done = doc.pairing.decide("confirm", doc.identity, clock=rig.clock)
    await send_and_wait(rig, PHYSICIAN_TG, done.token)
    await until(lambda: done.token in v3_tokens_to(rig, account, Kind.KEY_CONFIRM))
    await until(lambda: _told_paired(replies_to(rig, account)))
    return side.verify_confirmation(done.token)


async def _pair(rig: Rig, patient: IdentityKey, account: str | int = PATIENT_WA) -> bytes:
    doc = await register(rig)
    side = accept_offer_v3(doc.pairing.offer.to_qr_text(), patient, clock=rig.clock)
    await _accept(rig, doc, account, side)
    secrets = await _confirm(rig, doc, account, side)
    assert secrets.peer_identity_public == doc.identity.public
    return doc.pairing.offer.pairing_id


async def test_junk_accept_from_a_stranger_is_dropped(rig: Rig) -> None:
    doc = await register(rig)
    pid = doc.pairing.offer.pairing_id
    for stranger in (STRANGER_TG, THIEF_WA):
        replies = await send_and_wait(rig, stranger, junk_accept(pid))
        assert not _told_paired(replies), replies
        assert any("does not match the QR" in r for r in replies), replies
    # Nor can the stranger fall back on a v2 accept, which v2 would have bound.
    v2_junk = await send_and_wait(rig, STRANGER_TG, v2_accept_token(pid))
    assert not _told_paired(v2_junk), v2_junk
    assert v3_tokens_to(rig, PHYSICIAN_TG, Kind.PAIR_ACCEPT) == []
    patient = IdentityKey.generate()
    side = accept_offer_v3(doc.pairing.offer.to_qr_text(), patient, clock=rig.clock)
    await _accept(rig, doc, PATIENT_WA, side)
    await _confirm(rig, doc, PATIENT_WA, side)
    assert await reaches(rig, pid, PATIENT_WA)


async def test_photo_of_the_qr_raced_against_the_patient_aborts_and_repairing_works(
        rig: Rig) -> None:
    doc = await register(rig)
    pid = doc.pairing.offer.pairing_id
    photo = doc.pairing.offer.to_qr_text()
    patient = IdentityKey.generate()
    thief = accept_offer_v3(photo, IdentityKey.generate(), clock=rig.clock)
    real = accept_offer_v3(photo, patient, clock=rig.clock)
    assert not _told_paired(await send_and_wait(rig, THIEF_WA, thief.accept_token))
    await send_and_wait(rig, PATIENT_WA, real.accept_token)
    for account in (THIEF_WA, PATIENT_WA, PHYSICIAN_TG):
        await until(lambda a=account: any(ABORT in r for r in replies_to(rig, a)))
    # The physician's companion saw both valid accepts and aborts on its own too.
    relayed = v3_tokens_to(rig, PHYSICIAN_TG, Kind.PAIR_ACCEPT)
    assert relayed == [thief.accept_token, real.accept_token]
    doc.pairing.receive_accept(relayed[0], clock=rig.clock)
    with pytest.raises(QrShared, match=ABORT):
        doc.pairing.receive_accept(relayed[1], clock=rig.clock)
    assert not _told_paired(replies_to(rig, THIEF_WA))
    assert not await reaches(rig, pid, THIEF_WA)
    # A new QR, shown to the real patient only, pairs.
    again = await _pair(rig, patient)
    assert await reaches(rig, again, PATIENT_WA)


async def test_the_same_accept_replayed_from_another_account_is_refused(rig: Rig) -> None:
    doc = await register(rig)
    pid = doc.pairing.offer.pairing_id
    side = accept_offer_v3(doc.pairing.offer.to_qr_text(), IdentityKey.generate(),
                           clock=rig.clock)
    await _accept(rig, doc, PATIENT_WA, side)
    replies = await send_and_wait(rig, THIEF_WA, side.accept_token)
    assert not _told_paired(replies) and any("another account" in r for r in replies)
    assert not any(ABORT in r for r in replies_to(rig, PATIENT_WA))
    assert v3_tokens_to(rig, PHYSICIAN_TG, Kind.PAIR_ACCEPT) == [side.accept_token]
    await _confirm(rig, doc, PATIENT_WA, side)
    assert not _told_paired(replies_to(rig, THIEF_WA))
    assert await reaches(rig, pid, PATIENT_WA)
    assert not await reaches(rig, pid, THIEF_WA)


async def test_patient_identity_with_the_attackers_ephemeral_key_fails_the_signature(
        rig: Rig) -> None:
    doc = await register(rig)
    pid = doc.pairing.offer.pairing_id
    photo = doc.pairing.offer.to_qr_text()
    patient = IdentityKey.generate()
    real = accept_offer_v3(photo, patient, clock=rig.clock)  # seen by the attacker
    stolen = parse_token(real.accept_token).pairing3
    assert isinstance(stolen, pw.AcceptV3)
    offer = parse_offer_text_v3(photo)
    prefix = pw.accept_prefix(pid, offer.admission_value(), prim.x25519_public(os.urandom(32)),
                              patient.public)
    forged = encode_token(pw.encode_accept_v3(prefix, stolen.signature))
    assert not _told_paired(await send_and_wait(rig, THIEF_WA, forged))
    await until(lambda: forged in v3_tokens_to(rig, PHYSICIAN_TG, Kind.PAIR_ACCEPT))
    with pytest.raises(DecryptionFailed):
        doc.pairing.receive_accept(forged, clock=rig.clock)
    assert doc.pairing.screen.code is None  # nothing to confirm: no code is shown
    assert not await reaches(rig, pid, THIEF_WA)
    # The real patient's accept meets the attacker's at the bot: aborted, re-pair works.
    await send_and_wait(rig, PATIENT_WA, real.accept_token)
    await until(lambda: any(ABORT in r for r in replies_to(rig, PATIENT_WA)))
    again = await _pair(rig, patient)
    assert await reaches(rig, again, PATIENT_WA)


async def test_a_withheld_accept_shows_different_codes_and_nothing_is_confirmed(
        rig: Rig) -> None:
    doc = await register(rig)
    pid = doc.pairing.offer.pairing_id
    photo = doc.pairing.offer.to_qr_text()
    real = accept_offer_v3(photo, IdentityKey.generate(), clock=rig.clock)
    # The real accept never reaches the physician (a bot or platform withholds it);
    # the thief's, from a photo of the QR, does.
    thief = accept_offer_v3(photo, IdentityKey.generate(), clock=rig.clock)
    assert not _told_paired(await send_and_wait(rig, THIEF_WA, thief.accept_token))
    await until(lambda: thief.accept_token in v3_tokens_to(rig, PHYSICIAN_TG, Kind.PAIR_ACCEPT))
    screen = doc.pairing.receive_accept(thief.accept_token, clock=rig.clock)
    assert screen.code != real.code  # what the physician sees vs. the patient's screen
    answer = "confirm" if screen.code == real.code else None  # codes differ: no confirm
    with pytest.raises(PairingCancelled):
        doc.pairing.decide(answer, doc.identity, clock=rig.clock)
    assert v3_tokens_to(rig, THIEF_WA, Kind.KEY_CONFIRM) == []
    assert not _told_paired(replies_to(rig, THIEF_WA))
    assert not await reaches(rig, pid, THIEF_WA)


async def test_key_confirm_binds_only_from_the_physician_and_for_a_pending_accept(
        rig: Rig) -> None:
    doc = await register(rig)
    pid = doc.pairing.offer.pairing_id
    side = accept_offer_v3(doc.pairing.offer.to_qr_text(), IdentityKey.generate(),
                           clock=rig.clock)
    await _accept(rig, doc, PATIENT_WA, side)
    doc.pairing.receive_accept(side.accept_token, clock=rig.clock)
    done = doc.pairing.confirm(doc.identity, clock=rig.clock)
    # The patient (or anyone but the physician) cannot send the confirmation.
    replies = await send_and_wait(rig, PATIENT_WA, done.token)
    assert not _told_paired(replies)
    # A confirmation naming an accept the bot never admitted binds nobody.
    info = parse_token(done.token).pairing3
    assert isinstance(info, pw.KeyConfirm)
    prefix = pw.confirm_prefix(pid, os.urandom(32), info.confirm_mac)
    other = encode_token(pw.encode_confirm(prefix, doc.identity.sign(
        b"MEDCRYPT v3 key confirm signature" + prefix)))
    replies = await send_and_wait(rig, PHYSICIAN_TG, other)
    assert not any("paired" in r.lower() for r in replies)
    assert not await reaches(rig, pid, PATIENT_WA)
    await send_and_wait(rig, PHYSICIAN_TG, done.token)
    await until(lambda: done.token in v3_tokens_to(rig, PATIENT_WA, Kind.KEY_CONFIRM))
    assert await reaches(rig, pid, PATIENT_WA)


async def test_the_bot_keeps_hashes_only_and_logs_no_key_token_or_number(
        rig: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    from sqlalchemy import select

    from medcrypt.storage.models.admissions import PairingAdmission, PendingAccept

    patient = IdentityKey.generate()
    doc = await register(rig)
    side = accept_offer_v3(doc.pairing.offer.to_qr_text(), patient, clock=rig.clock)
    await _accept(rig, doc, PATIENT_WA, side)
    accept = parse_token(side.accept_token).pairing3
    assert isinstance(accept, pw.AcceptV3)
    with rig.bot.sessions() as s:  # what the pairing rows hold: two hashes, nothing else
        assert [bytes(h) for h in s.scalars(select(PairingAdmission.admission_hash))] == [
            pw.admission_hash(accept.pairing_id, accept.admission)]
        assert [bytes(h) for h in s.scalars(select(PendingAccept.accept_hash))] == [
            accept.accept_hash]
    await _confirm(rig, doc, PATIENT_WA, side)
    keys = [accept.admission, accept.patient_ephemeral, accept.patient_identity,
            accept.signature, doc.identity.public, doc.pairing.offer.ephemeral_public]
    for path in Path(rig.db).parent.glob(Path(rig.db).name + "*"):
        data = path.read_bytes()
        for value in keys:
            assert value not in data and value.hex().encode() not in data, path.name
        assert PATIENT_WA.encode() not in data and PATIENT_WA[1:].encode() not in data
    logs = capsys.readouterr()
    text = logs.out + logs.err
    assert "paired" not in text or "[MEDCRYPT:" not in text
    for value in keys:
        assert value.hex() not in text and prim.b64e(value)[:40] not in text
    assert side.accept_token[13:80] not in text and PATIENT_WA[1:] not in text


async def test_pending_accepts_expire_with_the_offer(tmp_path: Path) -> None:
    from datetime import timedelta

    from sqlalchemy import func, select

    from medcrypt.bot.domain.retention import prune
    from medcrypt.storage.models.admissions import PendingAccept
    from tests.support.clocks import MovableClock
    from tests.support.rigs import START, live_bot

    async with live_bot(tmp_path, clock=MovableClock(START)) as rig:
        doc = await register(rig)
        pid = doc.pairing.offer.pairing_id
        side = accept_offer_v3(doc.pairing.offer.to_qr_text(), IdentityKey.generate(),
                               clock=rig.clock)
        await _accept(rig, doc, PATIENT_WA, side)
        doc.pairing.receive_accept(side.accept_token, clock=rig.clock)
        done = doc.pairing.confirm(doc.identity, clock=rig.clock)
        with rig.bot.sessions() as s:
            assert s.scalar(select(func.count()).select_from(PendingAccept)) == 1
        rig.clock.set(START + timedelta(minutes=11))  # past the offer's 10 minutes
        replies = await send_and_wait(rig, PHYSICIAN_TG, done.token, expect="expired")
        assert any("expired" in r for r in replies) and not _told_paired(replies)
        # A late accept (the same bytes, from a stranger's account) is refused as expired.
        assert any("expired" in r for r in await send_and_wait(rig, THIEF_WA, side.accept_token,
                                                               expect="expired"))
        with rig.bot.sessions.begin() as s:
            assert prune(s, rig.clock.now())["pending_accepts"] == 1
        with rig.bot.sessions() as s:
            assert s.scalar(select(func.count()).select_from(PendingAccept)) == 0
        assert not await reaches(rig, pid, PATIENT_WA)
