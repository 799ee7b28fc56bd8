"""Attack: a lost phone, ``/shred``, and a keystore the thief copied before the shred.

The story the issue proved on main: after ``/shred`` the pairing stayed ``active``, so the
next month's tokens were relayed again - to the stolen account, whose copied keystore
opens them (both companions derive every later month from the month they hold). The
attacker needs nothing but what they already have: the patient's WhatsApp account and a
copy of the patient's companion state. The physician does nothing wrong: their companion
still holds the pairing and keeps writing.
"""

from __future__ import annotations

import asyncio
import copy
import re
from datetime import UTC, datetime

from sqlalchemy import select

from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.crypto.keyless.tags import tag_of_hex
from medcrypt.crypto.keyless.wire import find_tokens, parse_token
from medcrypt.crypto.server.audit import Action
from medcrypt.storage.models.escrow import EscrowDeposit
from medcrypt.storage.models.pairings import Pairing
from tests.support.conversation import pair, say
from tests.support.rigs import ADMIN_A, PATIENT_WA, PHYSICIAN_TG, Rig, run_jobs_at, until

CONFIRM_RE = re.compile(r"send: (/shred \S+ [0-9A-Z]{10})")
REFUSED = "Not sent: the clinic shredded"
#: The next month, a day after its keys took over on both companions.
DECEMBER = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
#: Two months on: "whatever its month".
JANUARY = datetime(2027, 1, 12, 9, 0, tzinfo=UTC)


async def _shred(rig: Rig, pairing_hex: str) -> str:
    ask = await rig.tg_says(ADMIN_A, f"/shred {pairing_hex[:8]}", expect="To confirm")
    match = CONFIRM_RE.search(ask)
    assert match, ask
    return await rig.tg_says(ADMIN_A, match.group(1), expect="Shredded pairing")


async def _settle(rig: Rig, seconds: float = 1.5) -> None:
    """Let the outbox deliver whatever the relay queued (a refusal must queue nothing)."""
    rig.bot.worker.wake()
    await asyncio.sleep(seconds)


def _tokens_in(texts: list[str]) -> set[str]:
    return {t for text in texts for t in find_tokens(text)}


async def test_after_shred_no_later_month_reaches_a_copied_keystore(live: Rig) -> None:
    conv = await pair(live)
    await say(live, conv, "physician", "Your biopsy results are in; call me.")
    await say(live, conv, "patient", "Calling this afternoon.")
    # The thief copies the patient's companion (keystore) and keeps the WhatsApp account.
    stolen = copy.deepcopy(conv.patient)
    pid = conv.pairing_id.hex()
    await _shred(live, pid)

    # Next month. The jobs run as in production; the physician's companion, not yet
    # told, writes with December's key - as does the thief's copy.
    await run_jobs_at(live, DECEMBER, "rotation", "shred_sweep")
    wa_before = _tokens_in(live.wa_texts())
    tg_before = _tokens_in(live.tg_texts(PHYSICIAN_TG))
    token, deposit = conv.send("physician", "Are the new tablets helping?")
    assert parse_token(token).header.epoch == epoch_of(DECEMBER)
    assert deposit is not None  # December's first message carries its escrow deposit
    live.tg.user_sends_text(PHYSICIAN_TG, deposit)
    live.tg.user_sends_text(PHYSICIAN_TG, token)
    forged = stolen.encrypt(b"Please resend my last lab results here.", clock=live.clock)
    assert forged.escrow_deposit is not None
    for item in (forged.escrow_deposit, forged.token):
        r = await live.tw.user_sends_whatsapp_async(PATIENT_WA, item)
        assert r.http_status == 200
    # Wait for the physician's side to settle: a refusal, or the token out on WhatsApp.
    await until(lambda: any(REFUSED in t for t in live.tg_texts(PHYSICIAN_TG))
                or token in _tokens_in(live.wa_texts()))
    await _settle(live)

    delivered_to_thief = _tokens_in(live.wa_texts()) - wa_before
    assert token not in delivered_to_thief, (
        "the relay delivered a December token of a shredded pairing to the stolen account")
    for got in delivered_to_thief:  # nothing new of this pairing reached WhatsApp at all
        assert parse_token(got).header.pairing_id != conv.pairing_id
    assert forged.token not in _tokens_in(live.tg_texts(PHYSICIAN_TG)) - tg_before, (
        "the relay delivered the thief's December token to the physician")

    # Both senders are told why, and what to do.
    refusal = next(t for t in live.tg_texts(PHYSICIAN_TG) if REFUSED in t)
    assert tag_of_hex(pid) in refusal and "medcrypt pair end" in refusal
    assert "new pairing" in refusal
    await until(lambda: any(REFUSED in t for t in live.wa_texts()))

    # Two months on, still refused: the end is for good, not one month's worth.
    live.clock.set(JANUARY)  # type: ignore[attr-defined]
    later = stolen.encrypt(b"Hello?", clock=live.clock)
    before = sum(REFUSED in t for t in live.wa_texts())
    for item in [later.escrow_deposit, later.token]:
        assert item is not None
        await live.tw.user_sends_whatsapp_async(PATIENT_WA, item)
    await until(lambda: sum(REFUSED in t for t in live.wa_texts()) >= before + 2)
    await _settle(live, 0.5)
    assert later.token not in _tokens_in(live.tg_texts(PHYSICIAN_TG))

    with live.bot.sessions() as s:
        row = s.get(Pairing, pid)
        assert row is not None
        ended = (row.status, row.shredded_at)
        deposits = list(s.scalars(select(EscrowDeposit.epoch).where(
            EscrowDeposit.pairing_id == pid)))
    assert ended == ("unpaired", datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    assert deposits == []  # no later month's deposit was taken either
    refused = [e.details for e in live.audit_log().export()
               if e.action == Action.RELAY_REFUSED.value and e.details]
    assert sum(1 for d in refused if d.get("reason") == "pairing_shredded") >= 6


async def test_shred_notice_says_what_happened_and_what_to_do(live: Rig) -> None:
    conv = await pair(live)
    await say(live, conv, "physician", "See you next week.")
    pid = conv.pairing_id.hex()
    await _shred(live, pid)

    def notice(texts: list[str]) -> str:
        return next((t for t in texts if t.startswith("MedCrypt:") and "conversation" in t), "")

    await until(lambda: bool(notice(live.tg_texts(PHYSICIAN_TG))))
    await until(lambda: bool(notice(live.wa_texts())))
    for text in (notice(live.tg_texts(PHYSICIAN_TG)), notice(live.wa_texts())):
        assert tag_of_hex(pid) in text  # which conversation, by the tag people use
        assert "2026-11-03 09:00 UTC" in text  # when
        assert "ended for good" in text  # what happened to the pairing
        assert "deleted" in text and "2026-11" in text  # what the clinic deleted
        assert f"medcrypt pair end --pairing {tag_of_hex(pid)}" in text  # what to do, on the device
        assert "new pairing" in text  # what to do, to go on
