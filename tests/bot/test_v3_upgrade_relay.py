"""v2 -> v3 upgrade through the real bot and the sandbox (PROTOCOL §35.6, issue 13).

A v2 pairing made by the companions' library goes through the live bot; the physician's
companion offers the upgrade, the patient's answers, and the relay marks the pairing v3.
Each attacker plays what the relay must refuse: the wrong member, an answer naming an
offer the relay never carried, a second upgrade after the first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session as OrmSession

from medcrypt.crypto.endpoint.session import (
    IdentityKey,
    accept_pairing,
    complete_pairing,
    start_pairing,
)
from medcrypt.crypto.endpoint.v3.session import Session
from medcrypt.crypto.endpoint.v3.upgrade import answer_upgrade, offer_upgrade
from medcrypt.crypto.keyless.wire import Kind
from medcrypt.storage.repos import upgrades
from tests.support.conversation import Conversation, make_escrow, say
from tests.support.rigs import ADMIN_A, PATIENT_WA, PHYSICIAN_TG, Rig, live_bot, until
from tests.support.v3pairing import STRANGER_TG, send_and_wait, v3_tokens_to


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with live_bot(tmp_path, escrow=make_escrow(),
                        clinic={"admin_telegram_ids": [ADMIN_A]}) as running:
        yield running


async def _pair(rig: Rig) -> tuple[Conversation, IdentityKey, IdentityKey]:
    """A v2 pairing through the live bot; the two identity keys are the companions'."""
    assert rig.escrow is not None
    physician_id, patient_id = IdentityKey.generate(), IdentityKey.generate()
    pending = start_pairing(physician_id, clock=rig.clock, escrow_public=rig.escrow.public)
    patient, accept = accept_pairing(pending.offer.to_qr_text(), patient_id, clock=rig.clock)
    physician = complete_pairing(pending, accept, physician_id, clock=rig.clock)
    await send_and_wait(rig, PHYSICIAN_TG, pending.offer.registration_token(),
                        expect="registered")
    # The platform warning may come first: wait for the pairing's own answer.
    replies = await send_and_wait(rig, PATIENT_WA, accept, expect="paired")
    assert any("paired" in r for r in replies), replies
    conv = Conversation(rig.clock, physician, patient,  # type: ignore[arg-type]
                        pending.offer.registration_token(), accept, physician.pairing_id)
    return conv, physician_id, patient_id


def _upgraded_at(rig: Rig, conv: Conversation) -> object:
    engine = create_engine(f"sqlite:///{rig.db}")
    try:
        with OrmSession(engine) as session:
            row = upgrades.upgrade_of(session, conv.pairing_id.hex())
            return None if row is None else row.upgraded_at
    finally:
        engine.dispose()


async def test_v2_pairing_upgrades_through_the_relay(rig: Rig) -> None:
    conv, physician_id, patient_id = await _pair(rig)
    await say(rig, conv, "physician", "v2 before the upgrade")
    offer = offer_upgrade(conv.physician, physician_id, clock=rig.clock)
    replies = await send_and_wait(rig, PHYSICIAN_TG, offer.token, expect="Upgrade offer sent")
    assert any("Upgrade offer sent" in r for r in replies), replies
    await until(lambda: offer.token in v3_tokens_to(rig, PATIENT_WA, Kind.UPGRADE))
    assert _upgraded_at(rig, conv) is None  # one side's token is not an upgrade

    answer = answer_upgrade(offer.token, conv.patient, patient_id, clock=rig.clock)
    replies = await send_and_wait(rig, PATIENT_WA, answer.token, expect="now uses MedCrypt v3")
    assert any("now uses MedCrypt v3" in r for r in replies), replies
    await until(lambda: answer.token in v3_tokens_to(rig, PHYSICIAN_TG, Kind.UPGRADE))
    assert _upgraded_at(rig, conv) is not None

    done = offer.finish(answer.token, conv.physician, physician_id, clock=rig.clock)
    patient = Session.from_pairing(answer.upgraded.secrets)
    physician = Session.from_pairing(done.secrets)
    now = rig.clock.now()
    assert physician.decrypt(patient.encrypt(b"v3 hello", now=now), now=now).body == b"v3 hello"

    # A second upgrade of the same pairing is refused: it is v3 now.
    again = await send_and_wait(rig, PHYSICIAN_TG, offer.token,
                                expect="already uses MedCrypt v3")
    assert any("already uses MedCrypt v3" in r for r in again), again


async def test_upgrade_tokens_from_the_wrong_member_or_for_another_offer_are_refused(
        rig: Rig) -> None:
    conv, physician_id, patient_id = await _pair(rig)
    offer = offer_upgrade(conv.physician, physician_id, clock=rig.clock)
    # The patient cannot send the offer, a stranger cannot either.
    for account in (PATIENT_WA, STRANGER_TG):
        replies = await send_and_wait(rig, account, offer.token)
        assert not any("Upgrade offer sent" in r for r in replies), replies
    assert offer.token not in v3_tokens_to(rig, PATIENT_WA, Kind.UPGRADE)
    # An answer to an offer the relay never carried is not relayed and upgrades nothing.
    answer = answer_upgrade(offer.token, conv.patient, patient_id, clock=rig.clock)
    replies = await send_and_wait(rig, PATIENT_WA, answer.token, expect="does not match")
    assert any("does not match the upgrade" in r for r in replies), replies
    assert _upgraded_at(rig, conv) is None
    # The physician cannot send the patient's answer.
    await send_and_wait(rig, PHYSICIAN_TG, offer.token, expect="Upgrade offer sent")
    replies = await send_and_wait(rig, PHYSICIAN_TG, answer.token,
                                  expect="not written for this conversation")
    assert any("not written for this conversation" in r for r in replies), replies
    assert _upgraded_at(rig, conv) is None
    assert answer.token not in v3_tokens_to(rig, PHYSICIAN_TG, Kind.UPGRADE)
