"""``medcrypt-bot demo``: the whole story on loopback, narrated.

A physician on Telegram and a patient on WhatsApp, each with a real companion (the
``medcrypt`` program in a temporary home), talk through the real bot (PTB Application,
twilio Client, Starlette webhook, outbox worker, SQLite) connected to the sandbox fakes
of both platforms. The transcript shows, step by step, what each person saw next to
what the server stored: clinic setup (escrow key split 2-of-3), pairing, messages both
ways, a month passing with rotation, grace and shred (:mod:`demo.month`),
break-glass (:mod:`demo.breakglass`), a lost phone's ``/shred`` that ends the pairing
for good (:mod:`demo.lost_phone`) and ``audit verify`` (:mod:`demo.audit`) -
and ends by scanning every byte the platforms received, the database file and its WAL
for the plaintexts used: none may appear. The pairing of chapters 1-12 is made as
before MedCrypt v3 (v2); chapter 13 (:mod:`demo.v3`) pairs Sam's new phone with v3 - the
code on both screens, the confirmation - and shows a stolen copy of its companion
stop working after one round trip.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medcrypt.bot.app.bot import BotApp
from medcrypt.bot.app.logs import setup_logging
from medcrypt.bot.app.wiring import build_services
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.lifecycle.runs import run_job
from medcrypt.crypto.errors import MedCryptError
from medcrypt.crypto.keyless.parts import join_parts
from medcrypt.crypto.keyless.wire import Kind, find_tokens, parse_token
from medcrypt.demo.audit import audit_chapter
from medcrypt.demo.breakglass import ADMIN_A, ADMIN_B, break_glass
from medcrypt.demo.checks import report_leaks, server_state, verdicts
from medcrypt.demo.clinic import (
    EscrowSetup,
    Operator,
    TravelClock,
    clinic_setup,
    say,
    settings_dict,
    write_toml,
)
from medcrypt.demo.lost_phone import DOC_MAY, THIEF_MAY, lost_phone
from medcrypt.demo.month import APRIL_NOTE, LATE_NOTE, START, month_passes
from medcrypt.demo.people import Person
from medcrypt.demo.v3 import V3_AFTER, V3_FIRST, V3_REPLY, v3_chapter
from medcrypt.sandbox import FakeTelegram
from medcrypt.sandbox.fake_twilio import FakeTwilio

PHYSICIAN_CHAT = 4_100_001
PATIENT_NUMBER = "+15550100200"
TEMPLATE_SID = "HX" + "d" * 32
SECRET_NOTE = "Your HbA1c is 6.1%, well controlled. Keep the metformin dose."  # noqa: S105 - a demo plaintext, not a credential
LONG_NOTE = ("Discharge plan: " + "walk 20 minutes daily, check glucose before meals, "
             * 60).strip()
PATIENT_NOTE = "Thank you doctor - the dizziness is gone since Tuesday."
PLAINTEXT_SLIP = "I also have chest pain at night"
#: What Dr. Rivera calls the pairing in the companion: kept on the device, never sent.
LABEL = "Sam Okafor"
LAB_REPORT = b"%PDF-1.7 demo lab report: potassium 4.1 mmol/L, creatinine 0.9 mg/dL\n"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _short(token: str) -> str:
    return token[:28] + "…]" if len(token) > 30 else token


async def _until(pred: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError("the demo waited too long for a delivery")
        await asyncio.sleep(0.02)


class Demo:
    def __init__(self, root: Path, tg: FakeTelegram, tw: FakeTwilio, port: int, *,
                 clock: TravelClock, operator: Operator, escrow: EscrowSetup,
                 break_glass: str = "auto", configure_logging: bool = True) -> None:
        self.root = root
        self.tg = tg
        self.tw = tw
        self.clock = clock
        self.escrow = escrow
        self.break_glass_mode = break_glass
        self.physician_chat = PHYSICIAN_CHAT
        self.patient_number = PATIENT_NUMBER
        config = settings_dict(root, telegram=(tg.base_url, tg.base_file_url),
                               twilio_api=tw.api_base_url, port=port,
                               template_sid=TEMPLATE_SID,
                               escrow_public_key=escrow.public_config,
                               admin_telegram_ids=[ADMIN_A, ADMIN_B])
        settings = parse_settings(config)
        operator.config = write_toml(root / "clinic.toml", config)
        self.operator = operator
        env = {**operator.environ, "TELEGRAM_BOT_TOKEN": tg.token,
               "TWILIO_ACCOUNT_SID": tw.account_sid, "TWILIO_AUTH_TOKEN": tw.auth_token,
               "TWILIO_WHATSAPP_FROM": tw.whatsapp_from}
        if configure_logging:
            setup_logging(settings)  # warnings only: the transcript is the output
        self.bot = BotApp(settings, environ=env, clock=clock)
        self.jobs = build_services(settings, clock, environ=env)
        self.doc = Person("Dr. Rivera", "physician", root / "physician", now=clock.now)
        self.pat = Person("Sam", "patient", root / "patient", now=clock.now)
        self.tg_seen = 0
        self.wa_seen = 0
        # What the checks at the end compare against.
        self.march_tokens: list[str] = []
        self.april_sent = ""
        self.late_sent = ""
        self.shredded_epoch = 0
        self.rotation_seen: dict[str, bool] = {}
        self.refusals: list[str] = []
        self.companion_refusal = ""
        self.scan_hits: int | None = None
        self.leaks = 0
        self.recovered: dict[str, Any] = {}
        self.audit_counts = (0, 0)
        #: Next month's tokens of the pairing /shred ended were all refused, none delivered.
        self.shred_refused = False
        #: v3 (chapter 13): both screens showed one code and the confirmation verified.
        self.v3_codes_matched = False
        #: v3: a copy of the new phone's home opened nothing after one round trip.
        self.v3_copy_stopped = False
        #: The pairing's tag (from the physician's companion) and where it was seen:
        #: the bot's reply, the admins' /pairings, the companion's "From <label> (tag)".
        self.tag = ""
        self.names_seen: dict[str, bool] = {}

    say = staticmethod(say)

    @staticmethod
    async def until(pred: Callable[[], bool], timeout: float = 15.0) -> None:
        await _until(pred, timeout)

    async def job(self, name: str) -> dict[str, Any]:
        """``medcrypt-bot jobs run NAME --now <the demo's now>``, on the bot's clock."""
        outcome = await asyncio.to_thread(run_job, self.jobs, name, trigger="manual",
                                          now=self.clock.now())
        return outcome.summary

    @staticmethod
    def epoch_of_tokens(tokens: list[str]) -> int:
        heads = [parse_token(t).header for t in tokens]
        return next(int(h.epoch) for h in heads if h.epoch is not None)

    async def _sends(self, person: Person, out: str) -> list[str]:
        """Send a companion's output: any escrow deposit first (the bot confirms it),
        then the message tokens; returns the message tokens."""
        tokens = find_tokens(out)
        deposits = [t for t in tokens if parse_token(t).header.kind is Kind.ESCROW_DEPOSIT]
        messages = [t for t in tokens if t not in deposits]
        for group, confirm in ((deposits, True), (messages, False)):
            for token in group:
                if person is self.doc:
                    self.tg.user_sends_text(PHYSICIAN_CHAT, token)
                else:
                    await self.tw.user_sends_whatsapp_async(PATIENT_NUMBER, token)
            if confirm and group:
                inbox = self.doc_inbox if person is self.doc else self.pat_inbox
                for text in await inbox(len(group)):
                    say(person.name.split()[-1], f"companion adds this month's escrow "
                                                 f"deposit; bot: {text}")
        return messages

    async def physician_sends(self, out: str) -> list[str]:
        return await self._sends(self.doc, out)

    async def patient_sends(self, out: str) -> list[str]:
        return await self._sends(self.pat, out)

    # -- what each person's phone shows -------------------------------------------------
    async def doc_inbox(self, n: int) -> list[str]:
        await _until(lambda: len(self.tg.messages_to(PHYSICIAN_CHAT)) >= self.tg_seen + n)
        new = self.tg.messages_to(PHYSICIAN_CHAT)[self.tg_seen:]
        self.tg_seen += len(new)
        return [m.text or f"<document {m.file_name}, {len(m.document or b'')} bytes>"
                for m in new]

    async def pat_inbox(self, n: int) -> list[str]:
        def done() -> list[str]:
            return [m.body or "<media>" for m in self.tw.messages_to(PATIENT_NUMBER)
                    if m.status in ("sent", "delivered", "read")]
        await _until(lambda: len(done()) >= self.wa_seen + n)
        new = done()[self.wa_seen:]
        self.wa_seen += len(new)
        return new

    def stored(self) -> str:
        return server_state(self.bot)

    # -- the story ----------------------------------------------------------------------
    async def run(self) -> None:
        await self.bot.start()
        try:
            await self.story()
        finally:
            await self.bot.stop()

    async def story(self) -> None:
        print("\n1. Pairing in the clinic (QR code)")
        await self.doc.run("init", "--role", "physician",
                           "--escrow-key", self.escrow.public_b64)
        await self.pat.run("init", "--role", "patient")
        # Chapters 1-12 keep a v2 pairing, as made before v3; chapter 13 pairs with v3.
        offer = await self.doc.run_json("pair", "offer", "--protocol", "2", "--png",
                                        str(self.root / "offer.png"), "--no-terminal")
        say("Rivera", "companion shows a QR code (protocol v2, as every pairing made before "
                      "MedCrypt v3; chapter 13 pairs with v3); pastes the registration into "
                      "Telegram:")
        say("", _short(offer["registration_token"]))
        self.tg.user_sends_text(PHYSICIAN_CHAT, offer["registration_token"])
        self.tag = str(offer["tag"])
        registered = (await self.doc_inbox(1))[0]
        self.names_seen["bot"] = f"Pairing offer {self.tag} registered" in registered
        say("Rivera", f"companion names the pairing {self.tag}; bot: {registered}")
        accepted = await self.pat.run_json("pair", "accept", "--qr",
                                           str(self.root / "offer.png"))
        say("Sam", "scans the QR with the companion; sends its answer on WhatsApp")
        await self.tw.user_sends_whatsapp_async(PATIENT_NUMBER, accepted["accept_token"])
        for text in await self.pat_inbox(2):
            say("Sam", f"bot: {text}")
        relayed = await self.doc_inbox(2)
        accept = next(t for text in relayed for t in find_tokens(text))
        await self.doc.run_json("pair", "complete", accept)
        say("Rivera", f"companion: paired; safety number {accepted['safety_number'][:17]}…")
        labelled = await self.doc.run("pair", "label", self.tag, LABEL)
        say("Rivera", f"labels it on the device: {labelled.strip()}")
        say("", self.stored())

        print("\n2. Physician → patient, across platforms")
        out = await self.doc.run("encrypt", "--max-chars", "4096", stdin=SECRET_NOTE)
        say("Rivera", f"types: {SECRET_NOTE!r}")
        sent = await self.physician_sends(out)
        self.march_tokens = sent
        say("", f"Telegram carries: {_short(sent[-1])}")
        got = await self.pat_inbox(len(sent))
        plain = await self.pat.run("decrypt", stdin="\n".join(got))
        say("Sam", f"WhatsApp shows {len(got)} token(s); companion opens: {plain.strip()!r}")
        say("", self.stored())

        print("\n3. Patient → physician")
        out = await self.pat.run("encrypt", "--max-chars", "1600", stdin=PATIENT_NOTE)
        sent = await self.patient_sends(out)
        say("Sam", f"types: {PATIENT_NOTE!r}")
        got = await self.doc_inbox(len(sent))
        status, plain, sender = await self.doc.attempt("decrypt", stdin="\n".join(got))
        if status != 0:
            raise MedCryptError(f"companion decrypt failed ({status}): {sender[:300]}")
        self.names_seen["companion"] = sender == f"From {LABEL} ({self.tag}):"
        say("Rivera", f"Telegram shows a token; companion: {sender} {plain.strip()!r}")

        print("\n4. A long message: one Telegram token, re-split by the bot for WhatsApp")
        out = await self.doc.run("encrypt", "--max-chars", "4096", stdin=LONG_NOTE)
        tokens = await self.physician_sends(out)
        say("Rivera", f"sends {len(LONG_NOTE)} characters: the companion makes "
                      f"{len(tokens)} Telegram message(s) of ≤ 4096 characters")
        got = await self._whole_token_for_patient()
        plain = await self.pat.run("decrypt", stdin="\n".join(got))
        say("bot", f"joins them without decrypting, re-splits into {len(got)} WhatsApp "
                   f"parts of ≤ {max(map(len, got))} characters")
        say("Sam", f"companion joins the parts and opens {len(plain.strip())} characters")

        print("\n5. An attachment (lab report)")
        lab = self.root / "lab-report.pdf"
        lab.write_bytes(LAB_REPORT)
        container = self.root / "lab-report.pdf.mcf"
        manifest = await self.doc.run("send-file", str(lab), "--out", str(container),
                                      "--max-chars", "4096")
        self.tg.user_sends_document(PHYSICIAN_CHAT, container.name, container.read_bytes())
        manifest_tokens = await self.physician_sends(manifest)
        say("Rivera", f"sends lab-report.pdf encrypted ({container.stat().st_size} bytes) "
                      "and its manifest token")
        await _until(lambda: any(m.media for m in self.tw.messages_to(PATIENT_NUMBER)))
        got = await self.pat_inbox(1 + len(manifest_tokens))
        media = next(m for m in self.tw.messages_to(PATIENT_NUMBER) if m.media).media[0]
        received = self.root / "medcrypt-message.pdf"  # WhatsApp carries it in a PDF
        received.write_bytes(media.data)
        tokens = [t for text in got for t in find_tokens(text)]
        await self.pat.run("open-file", str(received), "--manifest", "-",
                           "--out", str(self.root / "opened.pdf"), stdin="\n".join(tokens))
        same = (self.root / "opened.pdf").read_bytes() == LAB_REPORT
        say("Sam", f"WhatsApp fetched the file from the bot's expiring URL, inside a PDF "
                   f"({media.content_type}); companion opens it: "
                   f"{'identical' if same else 'DIFFERENT'} to the original")

        print("\n6. A plaintext slip is blocked")
        await self.tw.user_sends_whatsapp_async(PATIENT_NUMBER, PLAINTEXT_SLIP)
        say("Sam", f"types straight into WhatsApp: {PLAINTEXT_SLIP!r}")
        for text in await self.pat_inbox(1):
            say("Sam", f"bot: {text}")
        say("Rivera", "receives nothing")

        await month_passes(self)
        self.recovered = await break_glass(self)
        await lost_phone(self)
        self.audit_counts = await audit_chapter(self)
        await v3_chapter(self)
        print("\n14. What the server holds")
        report_leaks(self, [LABEL, SECRET_NOTE, PATIENT_NOTE, LONG_NOTE[:40], LATE_NOTE,
                            APRIL_NOTE, DOC_MAY, THIEF_MAY, V3_FIRST, V3_REPLY, V3_AFTER,
                            "potassium", "HbA1c"])

    async def _whole_token_for_patient(self) -> list[str]:
        """Wait until the patient holds every part of one token; return the parts."""
        got: list[str] = []
        while True:
            got += await self.pat_inbox(1)
            try:
                join_parts([t for text in got for t in find_tokens(text)])
            except MedCryptError:
                continue
            return got

async def _main(break_glass: str) -> int:
    port = _port()
    clock = TravelClock(START)
    with tempfile.TemporaryDirectory(prefix="medcrypt-demo-") as tmp:
        print("MedCrypt bridge demo - physician on Telegram, patient on WhatsApp "
              "(sandbox platforms, real bot, real companions)\n")
        operator, escrow = await clinic_setup(clock)
        async with FakeTelegram() as tg, FakeTwilio(
                webhook_url=f"http://127.0.0.1:{port}/twilio/inbound",
                templates={TEMPLATE_SID: "You have a new secure message."}) as tw:
            demo = Demo(Path(tmp), tg, tw, port, clock=clock, operator=operator,
                        escrow=escrow, break_glass=break_glass)
            await demo.run()
    print("\nChecks")
    failed = 0
    for claim, ok in verdicts(demo):
        print(f"  CHECK {claim}: {'yes' if ok else 'NO'}")
        failed += not ok
    print("\nDone: only tokens crossed the platforms and the server." if not failed
          else f"\n{failed} check(s) FAILED")
    return 1 if failed else 0


def run_demo(*, break_glass: str = "auto") -> int:
    """Run the story; 0 when every check held, 1 when one did not or a step failed."""
    started = time.monotonic()
    try:
        status = asyncio.run(_main(break_glass))
    except (MedCryptError, TimeoutError) as exc:
        print(f"\nThe demo stopped: {exc}")
        status = 1
    print(f"(demo took {time.monotonic() - started:.1f}s)")
    return status
