"""Refusals that need time to pass: an expired request, an epoch already shredded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from medcrypt.bot.domain.lifecycle.shred import sweep
from medcrypt.crypto.endpoint import breakglass
from medcrypt.crypto.errors import EpochShredded
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.crypto.keyless.wire import Kind, parse_raw
from medcrypt.storage.models.breakglass import BreakGlassRequest
from medcrypt.storage.models.escrow import EscrowDeposit
from tests.support.breakglass import CODE_RE, request_and_approve
from tests.support.conversation import pair, say
from tests.support.rigs import ADMIN_A, ADMIN_B, PATIENT_WA, Rig

NOVEMBER = epoch_of(datetime(2026, 11, 1, tzinfo=UTC))
#: Grace is 7 days: November's keys are gone from 2026-12-08 00:00 UTC.
AFTER_GRACE = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("window_minutes", [5])
async def test_request_expires_after_the_window(rig: Rig, window_minutes: int) -> None:
    conv = await pair(rig)
    await say(rig, conv, "physician", "hello")
    reply = await rig.tg_says(ADMIN_A, f"/breakglass {conv.pairing_id.hex()} night emergency",
                              expect="within 5 minutes")
    code = CODE_RE.search(reply).group(1)  # type: ignore[union-attr]
    rig.clock.set(rig.clock.now() + timedelta(minutes=5))
    refused = await rig.tg_says(ADMIN_B, f"/approve {code}", expect="expired")
    assert "nothing to do" in refused
    assert not any(m.document for m in rig.tg.messages_to(ADMIN_A))
    assert not any("Emergency access" in t for t in rig.wa_texts())
    with rig.bot.sessions() as s:
        row = s.scalar(select(BreakGlassRequest))
        assert row is not None and row.status == "expired" and row.exported_at is None
    entries = [e for e in rig.audit_log().export() if e.action.startswith("breakglass.")]
    assert [(e.action, (e.details or {}).get("outcome")) for e in entries] == [
        ("breakglass.requested", None), ("breakglass.denied", "expired")]


async def shredded_month(rig: Rig) -> tuple[list[str], list[str], bytes]:
    """Messages in November, then after November's grace more in December; a bundle."""
    conv = await pair(rig)
    november = [await say(rig, conv, "physician", "November: start the new inhaler."),
                await say(rig, conv, "patient", "November: it helps, thanks.")]
    rig.clock.set(AFTER_GRACE)
    await say(rig, conv, "patient", "December: cough is back.")
    await say(rig, conv, "physician", "December: come in on Monday.")
    await say(rig, conv, "patient", "December: see you then.")
    await say(rig, conv, "physician", "December: bring your inhaler.")
    with pytest.raises(EpochShredded):  # the companions destroyed November's keys
        conv.patient.decrypt(november[0], clock=rig.clock)
    _code, bundle = await request_and_approve(rig, conv.pairing_id.hex())
    return november, [t for t, _p, e in conv.sent if e != NOVEMBER], bundle


async def test_shredded_epoch_is_not_in_the_bundle(rig: Rig) -> None:
    november, _december, bundle = await shredded_month(rig)
    contents = breakglass.unseal(rig.escrow.private, bundle)
    assert {parse_raw(r).header.epoch for r in contents.items} == {NOVEMBER + 1}
    assert contents.manifest["excluded_epochs"] == [NOVEMBER]
    opened = breakglass.open_bundle(bundle, rig.escrow.shares[1:])
    assert [m.body.decode().split(":")[0] for m in opened.messages] == ["December"] * 4
    assert all(t.encode() not in bundle for t in november)
    notice = next(t for t in rig.wa_texts() if "Emergency access" in t)
    assert "not yet destroyed" in notice
    assert PATIENT_WA  # the patient was told on WhatsApp


async def test_after_the_shred_job_no_deposit_of_the_month_remains(rig: Rig) -> None:
    await shredded_month(rig)
    sweep(rig.bot.services, AFTER_GRACE, scrub_after=False)
    with rig.bot.sessions() as s:
        left = [r for r in s.scalars(select(EscrowDeposit.raw))
                if parse_raw(r).header.kind is Kind.ESCROW_DEPOSIT
                and parse_raw(r).header.epoch == NOVEMBER]
    assert left == []
