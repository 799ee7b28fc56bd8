"""Two month boundaries through the live bot: rotation notices, grace, refusal, shredding.

The clock shared by the bot and both companions moves from November 2026 to January
2027; the jobs run as of each instant (``medcrypt-bot jobs run rotate|shred --now``
does the same). A token of the month just retired is still relayed inside the grace
window and refused after it with a reply naming the month; the sweep then removes that
month's tokens and escrow deposits from ``stored_tokens``/``escrow_deposits``, the
bytes of the SQLite file and its WAL, and the month's epoch row says ``shredded``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.crypto.keyless.wire import parse_token
from medcrypt.storage.models.epochs import Epoch
from medcrypt.storage.models.escrow import EscrowDeposit
from medcrypt.storage.models.tokens import StoredToken
from tests.support.conversation import Conversation, pair, say
from tests.support.rigs import PHYSICIAN_TG, Rig, run_jobs_at, until


def _epoch_states(rig: Rig, conv: Conversation) -> dict[int, str]:
    with rig.bot.sessions() as s:
        rows = s.execute(select(Epoch.epoch, Epoch.state).where(
            Epoch.pairing_id == conv.pairing_id.hex())).all()
        return {epoch: state for epoch, state in rows}


def _raw(rig: Rig) -> bytes:
    wal = rig.db.with_name(rig.db.name + "-wal")
    return rig.db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def _held_epochs(rig: Rig) -> set[int]:
    with rig.bot.sessions() as s:
        return set(s.scalars(select(StoredToken.epoch).distinct())) | set(
            s.scalars(select(EscrowDeposit.epoch).distinct()))


async def _relayed(rig: Rig, token: str) -> None:
    rig.tg.user_sends_text(PHYSICIAN_TG, token)
    await until(lambda: token in rig.wa_texts())


async def _refused(rig: Rig, token: str, month: str) -> None:
    reply = await rig.tg_says(PHYSICIAN_TG, token, expect="Not sent")
    assert "has been shredded" in reply and month in reply, reply
    assert token not in rig.wa_texts()


async def _month(rig: Rig, conv: Conversation, first: datetime, month: str,
                 retired: str, late: tuple[str, str], retired_raw: list[bytes]) -> None:
    """Cross into ``month`` at ``first``: rotate, notices, grace, refusal, sweep."""
    await run_jobs_at(rig, first, "rotation")
    # The live pairing is bookkept in epoch rows: the new month active, the old retired.
    states = _epoch_states(rig, conv)
    assert states[epoch_of(first)] == "active" and states[epoch_of(first) - 1] == "retired"
    rotated = f"new encryption keys from today ({month})"
    await until(lambda: any(rotated in t for t in rig.tg_texts(PHYSICIAN_TG)))
    # The patient's WhatsApp window closed a month ago: the notice waits for it to
    # reopen (a template tells them something is there), then arrives with the rest.
    await say(rig, conv, "patient", f"First message of {month}.")
    await until(lambda: any(rotated in t for t in rig.wa_texts()))
    in_grace, too_late = late
    await run_jobs_at(rig, first.replace(day=5), "shred_sweep")
    await _relayed(rig, in_grace)  # last month's key, inside the 7-day grace
    assert all(r in _raw(rig) for r in retired_raw)
    rig.clock.set(first.replace(day=9))
    await _refused(rig, too_late, retired)  # refused by the calendar even before the sweep
    summaries = await run_jobs_at(rig, first.replace(day=9), "shred_sweep")
    assert summaries[0], summaries
    assert epoch_of(first) - 1 not in _held_epochs(rig)
    assert _epoch_states(rig, conv)[epoch_of(first) - 1] == "shredded"
    raw = _raw(rig)
    assert not [r for r in retired_raw if r in raw]
    shredded = f"the keys for messages from {retired} were destroyed"
    await until(lambda: any(shredded in t for t in rig.tg_texts(PHYSICIAN_TG)))
    await until(lambda: any(shredded in t for t in rig.wa_texts()))


async def test_two_month_boundaries_through_the_live_bot(live: Rig) -> None:
    conv = await pair(live)
    nov_tokens = [await say(live, conv, "physician", "November: start the new dose."),
                  await say(live, conv, "patient", "November: started.")]
    late_nov = (conv.send("physician", "November, sent late but in grace.")[0],
                conv.send("physician", "November, sent too late.")[0])
    nov_raw = [parse_token(t).raw for t in [*nov_tokens, late_nov[0]]] + \
        [parse_token(d).raw for d in conv.deposits]
    assert len(conv.deposits) >= 1  # the escrow deposits of November are held too
    live.clock.set(datetime(2026, 12, 1, 0, 5, tzinfo=UTC))
    await _month(live, conv, datetime(2026, 12, 1, 0, 5, tzinfo=UTC), "2026-12", "2026-11",
                 late_nov, nov_raw)
    live.clock.set(datetime(2026, 12, 20, 10, 0, tzinfo=UTC))
    deposits_before = len(conv.deposits)
    dec_tokens = [await say(live, conv, "physician", "December: results are normal.")]
    late_dec = (conv.send("physician", "December, in grace.")[0],
                conv.send("physician", "December, too late.")[0])
    dec_raw = [parse_token(t).raw for t in [*dec_tokens, late_dec[0]]] + \
        [parse_token(d).raw for d in conv.deposits[deposits_before:]]
    await _month(live, conv, datetime(2027, 1, 1, 0, 5, tzinfo=UTC), "2027-01", "2026-12",
                 late_dec, dec_raw)
    assert _held_epochs(live) <= {epoch_of(datetime(2027, 1, 1, tzinfo=UTC))}
    assert len([t for t in live.wa_texts() if "new encryption keys" in t]) == 2
