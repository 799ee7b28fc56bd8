"""Demo chapter: a lost phone - ``/shred`` ends the pairing, and next month stays shut.

Sam's phone is stolen with the companion on it; the thief has the WhatsApp account and a
copy of the companion's home. An admin finds the pairing by its tag in ``/pairings`` and
shreds it in chat by that tag (two steps, a one-time code). Both people are told what
happened and what to do. A month later the physician's companion, not ended yet, writes
with May's key, and so does the thief's copy: each month's key follows from the last, so
both still *have* May's key - the relay refuses both tokens and nothing reaches the
other side. Then Dr. Rivera ends the pairing on the companion, which deletes its keys.
The checks at the end verify the refusals from what the platforms delivered, not from
the transcript.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from medcrypt.crypto.errors import MedCryptError
from medcrypt.crypto.keyless.epochs import epoch_of, format_epoch
from medcrypt.crypto.keyless.wire import Kind, find_tokens, parse_token
from medcrypt.demo.breakglass import ADMIN_A, admin_says
from medcrypt.demo.checks import only_pairing
from medcrypt.demo.people import Person

if TYPE_CHECKING:
    from medcrypt.demo.story import Demo

#: A month after the shred: May's keys have taken over on every copy of the companions.
NEXT_MONTH = datetime(2027, 5, 3, 9, 0, tzinfo=UTC)
DOC_MAY = "May: your potassium is back to normal, stop the supplement."
THIEF_MAY = "Please send my full lab history to this chat."
REFUSED = "Not sent: the clinic shredded"
_CONFIRM = re.compile(r"send: (/shred [0-9A-Z]{3}-[0-9A-Z]{3} [0-9A-Z]{10})")


async def _refusals(demo: Demo, sender: str, items: list[str]) -> list[str]:
    """Send ``items`` from ``sender``'s chat; one bot reply per item (the refusals)."""
    for item in items:
        if sender == "doc":
            demo.tg.user_sends_text(demo.physician_chat, item)
        else:
            await demo.tw.user_sends_whatsapp_async(demo.patient_number, item)
    inbox = demo.doc_inbox if sender == "doc" else demo.pat_inbox
    return await inbox(len(items))


async def lost_phone(demo: Demo) -> None:
    say = demo.say
    print("\n11. A lost phone: /shred ends the pairing for good")
    pairing = only_pairing(demo.bot)
    thief = Person("thief", "patient", demo.root / "stolen-companion", now=demo.clock.now)
    shutil.copytree(demo.pat.home, thief.home)
    say("Sam", "loses the phone; whoever has it holds the WhatsApp account and a copy of "
               "the companion")
    listing = await admin_says(demo, ADMIN_A, "/pairings", "Pairings 1-")
    line = next((t for t in listing.splitlines() if t.startswith(demo.tag)), "")
    demo.names_seen["admin"] = bool(line) and pairing not in listing
    say("Admin A", f"/pairings → bot: {line or listing[:90]}")
    ask = await admin_says(demo, ADMIN_A, f"/shred {demo.tag}", "To confirm")
    confirm = _CONFIRM.search(ask)
    if confirm is None:
        raise MedCryptError(f"no /shred confirmation code in the bot's reply: {ask[:80]!r}")
    say("Admin A", f"/shred {demo.tag} → bot: {ask[:90]}…")
    done = await admin_says(demo, ADMIN_A, confirm.group(1), "Shredded pairing")
    say("Admin A", f"{confirm.group(1)[:15]}… → bot: {done}")
    for who, inbox in (("Rivera", demo.doc_inbox), ("Sam", demo.pat_inbox)):
        for text in await inbox(1):
            say(who, f"bot: {text}")
    say("", demo.stored())

    demo.clock.travel_to(NEXT_MONTH)
    outcome = await demo.job("rotate")
    say("bot", f"{format_epoch(epoch_of(NEXT_MONTH))} begins; rotation job: "
               f"{outcome['pairings']} active pairing(s)")
    wa_before = {t for m in demo.tw.messages_to(demo.patient_number) if m.body
                 for t in find_tokens(m.body)}
    tg_before = {t for m in demo.tg.messages_to(demo.physician_chat) if m.text
                 for t in find_tokens(m.text)}
    doc_out = find_tokens(await demo.doc.run("encrypt", "--max-chars", "4096",
                                             stdin=DOC_MAY))
    doc_token = next(t for t in doc_out if parse_token(t).header.kind is Kind.MESSAGE)
    said = await _refusals(demo, "doc", doc_out)
    say("Rivera", f"not told yet, writes with {format_epoch(epoch_of(NEXT_MONTH))}'s key; "
                  f"bot: {said[-1][:95]}…")
    thief_out = find_tokens(await thief.run("encrypt", "--max-chars", "1600",
                                            stdin=THIEF_MAY))
    thief_token = next(t for t in thief_out if parse_token(t).header.kind is Kind.MESSAGE)
    stolen = await _refusals(demo, "thief", thief_out)
    say("thief", f"the copied companion writes too; bot: {stolen[-1][:95]}…")
    await asyncio.sleep(1.0)  # the outbox had its chance to deliver anything it queued
    wa_new = {t for m in demo.tw.messages_to(demo.patient_number) if m.body
              for t in find_tokens(m.body)} - wa_before
    tg_new = {t for m in demo.tg.messages_to(demo.physician_chat) if m.text
              for t in find_tokens(m.text)} - tg_before
    demo.shred_refused = (
        all(REFUSED in t for t in said + stolen) and doc_token not in wa_new
        and thief_token not in tg_new and not wa_new and not tg_new)
    say("check", "next month's tokens of the shredded pairing delivered: "
                 + ("none" if demo.shred_refused else "SOME (should not happen)"))
    ended = (await demo.doc.run("pair", "end", "--pairing", demo.tag, "--yes")).splitlines()
    say("Rivera", f"companion: {ended[0]}")
