"""Demo chapter: MedCrypt v3 - Sam's new phone pairs again, key-confirmed, and a stolen
copy of its companion stops working after one round trip.

The pairing of the story so far was made as pairings were before v3 (its months'
keys each follow from the last, which is why the lost phone needed ``/shred``). Sam's
new phone pairs with v3 (docs/PROTOCOL.md §30-§34): both screens show a verification
code derived from the secret root, Dr. Rivera confirms in person that they match, and
only then does the physician's companion send its key confirmation, which Sam's
companion verifies before any message flows. Then a copy of the new phone's companion
home is taken - everything on it, passphrase included - and after one round trip the
copy opens nothing either side writes (the Double Ratchet, PROTOCOL §23.3).
The checks at the end verify each claim from what the companions and the platforms did.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from medcrypt.crypto.keyless.wire import Kind, find_tokens, parse_token
from medcrypt.demo.people import Person

if TYPE_CHECKING:
    from medcrypt.demo.story import Demo

NEW_NUMBER = "+15550100201"
V3_FIRST = "Welcome back, Sam: your new phone is connected with MedCrypt v3."
V3_REPLY = "Thanks - the new phone works. Is the potassium result in?"
V3_AFTER = "Yes: potassium 4.2, all normal. No change to your medication."


class _Phone:
    """What Sam's new WhatsApp number received (its own count of messages seen)."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.seen = 0

    def _delivered(self) -> list[str]:
        return [m.body or "<media>" for m in self.demo.tw.messages_to(NEW_NUMBER)
                if m.status in ("sent", "delivered", "read")]

    async def inbox(self, n: int) -> list[str]:
        await self.demo.until(lambda: len(self._delivered()) >= self.seen + n)
        new = self._delivered()[self.seen:]
        self.seen += len(new)
        return new


def _messages(texts: list[str]) -> list[str]:
    return [t for text in texts for t in find_tokens(text)
            if parse_token(t).header.kind is Kind.MESSAGE]


async def v3_chapter(demo: Demo) -> None:
    say = demo.say
    print("\n13. MedCrypt v3: the new phone pairs with a confirmed code, and a stolen copy "
          "stops working")
    sam = Person("Sam", "patient", demo.root / "patient-new-phone", now=demo.clock.now)
    phone = _Phone(demo)
    await sam.run("init", "--role", "patient")
    offer = await demo.doc.run_json("pair", "offer", "--png", str(demo.root / "offer-v3.png"),
                                    "--no-terminal")
    demo.tg.user_sends_text(demo.physician_chat, offer["registration_token"])
    say("Rivera", f"new QR code (v3); bot: {(await demo.doc_inbox(1))[0]}")
    accepted = await sam.run_json("pair", "accept", "--qr", str(demo.root / "offer-v3.png"),
                                  "--no-history")
    await demo.tw.user_sends_whatsapp_async(NEW_NUMBER, accepted["accept_token"])
    say("Sam", f"scans it with the new phone; Sam's screen shows code "
               f"{accepted['verification_code']} (UNVERIFIED until the physician confirms)")
    for text in await phone.inbox(1):
        say("Sam", f"bot: {text}")
    relayed = "\n".join(await demo.doc_inbox(2))
    done = await demo.doc.run_json("pair", "complete", relayed, "--no-history",
                                   "--code", str(accepted["verification_code"]))
    say("Rivera", f"Rivera's screen shows code {done['verification_code']}; Sam reads his "
                  "aloud, they match, Rivera confirms")
    demo.tg.user_sends_text(demo.physician_chat, str(done["key_confirm_token"]))
    await demo.doc_inbox(1)
    delivered = await phone.inbox(3)
    confirm = next(t for text in delivered for t in find_tokens(text))
    verified = await sam.run_json("pair", "confirm", confirm)
    say("Sam", f"companion verifies the physician's key confirmation: "
               f"{'verified' if verified['verified'] else 'NOT verified'}; "
               f"bot: {delivered[-1]}")
    demo.v3_codes_matched = (accepted["verification_code"] == done["verification_code"]
                             and bool(verified["verified"]))

    async def doc_to_sam(text: str) -> str:
        out = await demo.doc.run("encrypt", "--max-chars", "4096", stdin=text)
        for token in find_tokens(out):
            demo.tg.user_sends_text(demo.physician_chat, token)
        return _messages(await phone.inbox(1))[0]

    async def sam_to_doc(text: str) -> None:
        out = await sam.run("encrypt", "--max-chars", "1600", stdin=text)
        for token in find_tokens(out):
            await demo.tw.user_sends_whatsapp_async(NEW_NUMBER, token)
        got = _messages(await demo.doc_inbox(1))
        plain = await demo.doc.run("decrypt", stdin="\n".join(got))
        say("Rivera", f"companion opens: {plain.strip()!r}")

    thief = Person("thief", "patient", demo.root / "stolen-new-phone", now=demo.clock.now)
    shutil.copytree(sam.home, thief.home)
    say("thief", "copies the new phone's whole companion home (and knows the passphrase)")
    first = await doc_to_sam(V3_FIRST)
    plain = await sam.run("decrypt", stdin=first)
    say("Sam", f"companion opens: {plain.strip()!r}")
    status, early, _ = await thief.attempt("decrypt", stdin=first)
    copy_worked = status == 0 and early.strip() == V3_FIRST  # the control: a real copy
    say("thief", "the copy opens the message sent right after the copy: "
                 + ("yes" if copy_worked else "no"))
    await sam_to_doc(V3_REPLY)
    after = await doc_to_sam(V3_AFTER)
    plain = await sam.run("decrypt", stdin=after)
    say("Sam", f"companion opens: {plain.strip()!r}")
    status, late, err = await thief.attempt("decrypt", stdin=after)
    stopped = status != 0 and V3_AFTER not in late
    say("thief", "after one round trip the stolen copy opens the next message: "
                 + (f"no - it stopped working ({err[:70]})" if stopped else "YES"))
    demo.v3_copy_stopped = copy_worked and stopped
