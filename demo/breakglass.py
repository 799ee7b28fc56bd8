"""Demo chapter: break-glass - two admins, two share holders, and what a bundle can hold.

Admin A asks, admin B approves; the bot seals the pairing's deposits and stored tokens to
the clinic escrow key and sends the bundle to A. Two of the three SLIP-39 share holders
open it offline with ``medcrypt-breakglass open``. The current month comes back;
the shredded month cannot, because nothing of it is left to put in a bundle.

When the chat commands (``/breakglass``, ``/approve``) are registered in the bot, the
admins type them on Telegram; until then the demo calls the same state machine
(:mod:`bot.domain.breakglass.requests`) the commands call, delivers its notices and the bundle
through the bot's outbox, and says so in the transcript.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medcrypt.bot.commands.registry import lookup
from medcrypt.bot.domain.breakglass import requests
from medcrypt.bot.domain.breakglass.bundle import bundle_digest
from medcrypt.bot.domain.lifecycle.queue import languages_for
from medcrypt.bot.domain.messages import OutboundMessage, OutKind, Platform
from medcrypt.bot.outbox.queue import enqueue
from medcrypt.crypto.errors import MedCryptError
from medcrypt.crypto.keyless.epochs import format_epoch
from medcrypt.demo.checks import only_pairing

if TYPE_CHECKING:
    from medcrypt.demo.story import Demo

ADMIN_A = 4_100_101
ADMIN_B = 4_100_102
REASON = "patient unconscious in the emergency department, attending needs the history"
_CODE = re.compile(r"\b([0-9a-f]{10})\b")


def _code(reply: str) -> str:
    found = _CODE.search(reply)
    if found is None:
        raise MedCryptError(f"no request code in the bot's reply: {reply[:80]!r}")
    return found.group(1)


async def admin_says(demo: Demo, admin: int, text: str, expect: str) -> str:
    """Send a command as ``admin``; the bot's reply is the first new text containing
    ``expect`` (admins also receive audit witness lines in between)."""
    seen = len(demo.tg.messages_to(admin))
    demo.tg.user_sends_text(admin, text)

    def reply() -> str:
        return next((m.text for m in demo.tg.messages_to(admin)[seen:]
                     if m.text and expect in m.text), "")
    await demo.until(lambda: bool(reply()))
    return reply()


async def _in_chat(demo: Demo, pairing: str) -> tuple[str, bytes]:
    reply = await admin_says(demo, ADMIN_A, f"/breakglass {demo.tag} {REASON}",
                              "request")
    demo.say("Admin A", f"/breakglass {demo.tag} {REASON[:30]}… → bot: {reply[:70]}…")
    code = _code(reply)
    reply = await admin_says(demo, ADMIN_B, f"/approve {code}", code)
    demo.say("Admin B", f"/approve {code} → bot: {reply[:110]}")
    return code, await _bundle_for_admin_a(demo)


async def _bundle_for_admin_a(demo: Demo) -> bytes:
    await demo.until(lambda: any(m.document for m in demo.tg.messages_to(ADMIN_A)))
    return next(m.document for m in demo.tg.messages_to(ADMIN_A) if m.document)


async def _by_functions(demo: Demo, pairing: str) -> tuple[str, bytes]:
    demo.say("note", "break-glass driven through the functions /breakglass and /approve "
                     "call (bot.domain.breakglass.requests), not typed in chat")
    for admin in (ADMIN_A, ADMIN_B):  # a Telegram bot may only write to people who wrote first
        await admin_says(demo, admin, "/start", "")
    bot = demo.bot
    with bot.sessions.begin() as s:
        a, b = (bot.services.directory.resolve(s, Platform.TELEGRAM, str(u)).identity_id
                for u in (ADMIN_A, ADMIN_B))
    deps = demo.jobs
    with bot.sessions.begin() as s:
        asked = requests.request(deps, s, requests.Actor(a, True), [pairing[:8], *REASON.split()])
    # The replies are written as the chat would write them to these (English) admins; the
    # members' notices each in the member's stored language.
    asked_text = asked.reply.in_("en")
    demo.say("Admin A", f"requests break-glass for {pairing[:8]}… → bot: {asked_text[:70]}…")
    code = _code(asked_text)
    with bot.sessions.begin() as s:
        approved = requests.approve(deps, s, requests.Actor(b, True), [code])
        approved_text = approved.reply.in_("en")
        language = languages_for(s, [member for member, _ in approved.notices],
                                 bot.services.settings.clinic.default_language)
        for member, notice in approved.notices:
            text = notice.in_(language[member])
            enqueue(s, OutboundMessage(recipient_id=member, kind=OutKind.NOTICE, text=text),
                    [text], demo.clock.now())
        if approved.document is None or approved.document_to is None:
            raise MedCryptError(f"approval exported no bundle: {approved_text[:80]}")
        enqueue(s, OutboundMessage(recipient_id=approved.document_to, kind=OutKind.FILE,
                                   document=approved.document), [""], demo.clock.now())
    bot.worker.wake()
    demo.say("Admin B", f"approves {code} → bot: {approved_text[:110]}")
    return code, await _bundle_for_admin_a(demo)


def _record_opened(demo: Demo, code: str, bundle: bytes, *, holders: int) -> None:
    """What ``medcrypt-bot breakglass record-open`` does, on the demo's calendar."""
    with demo.bot.sessions.begin() as s:
        requests.record_opened(demo.jobs, s, code, bundle_digest(bundle), holders=holders)


async def break_glass(demo: Demo) -> dict[str, Any]:
    """Run the chapter; returns what the quorum recovered (for the checks at the end)."""
    print("\n10. Break-glass: emergency access with two admins and two share holders")
    pairing = only_pairing(demo.bot)
    registered = lookup("breakglass") is not None and lookup("approve") is not None
    if demo.break_glass_mode == "chat" and not registered:
        raise MedCryptError("--break-glass chat: /breakglass and /approve are not registered")
    chat = registered and demo.break_glass_mode != "functions"
    code, bundle = await (_in_chat(demo, pairing) if chat else _by_functions(demo, pairing))
    for text in await demo.doc_inbox(1):
        demo.say("Rivera", f"bot: {text[:90]}…")
    for text in await demo.pat_inbox(1):
        demo.say("Sam", f"bot: {text[:90]}…")
    path = demo.root / "bundle.mcbg"
    path.write_bytes(bundle)
    holders = list(demo.escrow.shares)
    quorum = [holders[0], holders[2]]
    out = demo.root / "opened-bundle"
    shares = [arg for h in quorum for arg in ("--share", demo.escrow.shares[h])]
    said = await demo.operator.open_offline("open", str(path), *shares, "--out", str(out))
    _record_opened(demo, code, bundle, holders=len(quorum))
    demo.say("Admin A", f"receives the sealed bundle ({len(bundle)} bytes) on Telegram")
    demo.say("offline", f"{' and '.join(quorum)} enter their shares: {said.splitlines()[0]}")
    manifest = json.loads(Path(out / "manifest.json").read_text(encoding="utf-8"))
    messages = [json.loads(line) for line in
                (out / "messages.jsonl").read_text(encoding="utf-8").splitlines()]
    for m in messages:
        if "text" in m:
            demo.say("recovered", f"{m['month']} {m['direction']}: {m['text'][:60]!r}")
    months = sorted({m["month"] for m in messages})
    gone = format_epoch(demo.shredded_epoch)
    demo.say("check", f"months in the bundle: {', '.join(months) or 'none'}; the shredded "
                      f"month {gone}: {'PRESENT' if gone in months else 'absent'}")
    return {"messages": messages, "months": months, "manifest": manifest}
