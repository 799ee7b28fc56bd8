"""Demo chapter: a month passes - rotation, the grace window, the shred.

The calendar moves (the bot's :class:`~demo.clinic.TravelClock`, the companions'
``MEDCRYPT_NOW``); the jobs run exactly as ``medcrypt-bot jobs run rotate|shred --now
...`` runs them, through :func:`bot.domain.lifecycle.runs.run_job`, on the bot's own clock so that
every audit entry is in calendar order. Then the proof that a shred is real: the bot
refuses the old month, the companion cannot open it, and the bytes of every token of
that month are gone from the SQLite file and its WAL.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from medcrypt.crypto.keyless.epochs import epoch_of, format_epoch, grace_end
from medcrypt.crypto.keyless.wire import find_tokens
from medcrypt.demo.checks import scan_shredded, tokens_of_month

if TYPE_CHECKING:
    from medcrypt.demo.story import Demo

#: The demo's calendar: pairing in late March, rotation on 1 April, grace ends 8 April.
START = datetime(2027, 3, 22, 9, 0, tzinfo=UTC)
LAST_EVENING = datetime(2027, 3, 31, 21, 30, tzinfo=UTC)
NEW_MONTH = datetime(2027, 4, 1, 8, 0, tzinfo=UTC)
IN_GRACE = datetime(2027, 4, 3, 10, 0, tzinfo=UTC)
AFTER_GRACE = datetime(2027, 4, 8, 9, 0, tzinfo=UTC)

LATE_NOTE = "Written 31 March: the ECG from Monday is normal, no follow-up needed."
APRIL_NOTE = "April check-in: blood pressure 128/82 at home, keep the plan as it is."


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%MZ")


def _fingerprints(raws: list[bytes]) -> list[bytes]:
    """Byte strings that can only come from these tokens: their tails, raw and base64."""
    out: list[bytes] = []
    for raw in raws:
        out.append(raw[-24:])
        text = base64.b64encode(raw)
        out.append(text[len(text) // 2 - 16:len(text) // 2 + 16])
    return out


async def month_passes(demo: Demo) -> None:
    say = demo.say
    march = epoch_of(START)
    print(f"\n7. A month passes: it is {_iso(NEW_MONTH)}, the monthly rotation runs")
    demo.clock.travel_to(LAST_EVENING)
    late = await demo.doc.run("encrypt", "--max-chars", "4096", stdin=LATE_NOTE)
    demo.late_sent = LATE_NOTE
    say("Rivera", f"on 31 March writes {LATE_NOTE!r} but sends it only after midnight")
    demo.clock.travel_to(NEW_MONTH)
    outcome = await demo.job("rotate")
    say("bot", f"rotation job (jobs run rotate --now {_iso(NEW_MONTH)}): epoch {outcome['epoch']} "
               f"({format_epoch(outcome['epoch'])}), {outcome['notices_queued']} notice(s)")
    for who, inbox in (("Rivera", demo.doc_inbox), ("Sam", demo.pat_inbox)):
        for text in await inbox(1):
            say(who, f"bot: {text}")
            demo.rotation_seen[who] = "new encryption keys" in text
    tokens = await demo.physician_sends(
        await demo.doc.run("encrypt", "--max-chars", "4096", stdin=APRIL_NOTE))
    got = await demo.pat_inbox(len(tokens))
    demo.april_sent = APRIL_NOTE
    plain = await demo.pat.run("decrypt", stdin="\n".join(got))
    epoch = demo.epoch_of_tokens(tokens)
    say("Rivera", f"types {APRIL_NOTE!r}: a token of epoch {epoch} ({format_epoch(epoch)})")
    say("Sam", f"companion opens: {plain.strip()!r}")

    print(f"\n8. Inside the grace window ({_iso(IN_GRACE)}): March still opens")
    demo.clock.travel_to(IN_GRACE)
    late_tokens = await demo.physician_sends(late)
    got = await demo.pat_inbox(len(late_tokens))
    plain = await demo.pat.run("decrypt", stdin="\n".join(got))
    say("bot", f"relays the March token: grace lasts until "
               f"{grace_end(march):%Y-%m-%d %H:%M} UTC")
    say("Sam", f"companion opens the March message: {plain.strip()!r}")
    say("", demo.stored())

    print(f"\n9. Grace is over ({_iso(AFTER_GRACE)}): March is shredded")
    # Read before the calendar moves: a scheduler in the bot may sweep as soon as it does.
    raws = tokens_of_month(demo.bot, march)
    demo.clock.travel_to(AFTER_GRACE)
    outcome = await demo.job("shred")
    counts = ", ".join(f"{k}={v}" for k, v in outcome.items() if v and k != "scrub")
    say("bot", f"shred sweep (jobs run shred --now {_iso(AFTER_GRACE)}): {counts or 'nothing new'}"
               f"; scrub: {outcome.get('scrub', 'none')}")
    say("", demo.stored())
    for text in await demo.doc_inbox(1):
        say("Rivera", f"bot: {text}")
    for text in await demo.pat_inbox(1):
        say("Sam", f"bot: {text}")
    for person in (demo.doc, demo.pat):
        done = (await person.run("shred")).strip().splitlines()
        say(person.name.split()[-1], f"companion: {done[0] if done else 'keys up to date'}")
    for token in find_tokens(late):
        demo.tg.user_sends_text(demo.physician_chat, token)
    say("Rivera", "re-sends the March token to Telegram")
    for text in await demo.doc_inbox(1):
        say("Rivera", f"bot: {text}")
        demo.refusals.append(text)
    status, _out, err = await demo.pat.attempt("decrypt", stdin="\n".join(demo.march_tokens))
    demo.companion_refusal = err if status != 0 else ""
    say("Sam", f"pastes the March message from WhatsApp history; companion: "
               f"{err if status != 0 else 'OPENED (should not happen)'}")
    scan_shredded(demo, march, _fingerprints(raws))
