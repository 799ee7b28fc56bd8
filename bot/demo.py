"""``medcrypt-bot demo``: the whole story on loopback, narrated.

A physician on Telegram and a patient on WhatsApp, each with a real companion (the
``medcrypt`` program in a temporary home), talk through the real bot (PTB Application,
twilio Client, Starlette webhook, outbox worker, SQLite) connected to the sandbox fakes
of both platforms. The transcript shows, step by step, what each person saw next to
what the server stored - and ends by scanning every byte the platforms received, the
database file and its WAL for the plaintexts used: none may appear.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from bot.app import BotApp
from bot.config import parse_settings
from bot.demo_people import Person
from bot.logs import setup_logging
from bot.sandbox import FakeTelegram
from bot.sandbox.fake_twilio import FakeTwilio
from crypto.errors import MedCryptError
from crypto.parts import join_parts
from crypto.wire import find_tokens
from storage.models.bot_relay import BotOutbox, BotPairing, BotRelayedToken

PHYSICIAN_CHAT = 4_100_001
PATIENT_NUMBER = "+15550100200"
TEMPLATE_SID = "HX" + "d" * 32
SECRET_NOTE = "Your HbA1c is 6.1%, well controlled. Keep the metformin dose."  # noqa: S105 - a demo plaintext, not a credential
LONG_NOTE = ("Discharge plan: " + "walk 20 minutes daily, check glucose before meals, "
             * 60).strip()
PATIENT_NOTE = "Thank you doctor - the dizziness is gone since Tuesday."
PLAINTEXT_SLIP = "I also have chest pain at night"
LAB_REPORT = b"%PDF-1.7 demo lab report: potassium 4.1 mmol/L, creatinine 0.9 mg/dL\n"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _short(token: str) -> str:
    return token[:28] + "…]" if len(token) > 30 else token


def say(who: str, text: str) -> None:
    print(f"  {who:<10} {text}")


async def _until(pred: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError("the demo waited too long for a delivery")
        await asyncio.sleep(0.02)


class Demo:
    def __init__(self, root: Path, tg: FakeTelegram, tw: FakeTwilio, port: int, *,
                 configure_logging: bool = True) -> None:
        self.root = root
        self.tg = tg
        self.tw = tw
        settings = parse_settings({
            "database": {"url": f"sqlite:///{root / 'bot.db'}"},
            "logging": {"level": "WARNING"},
            "telegram": {"api_base_url": tg.base_url, "api_file_url": tg.base_file_url,
                         "poll_timeout_seconds": 1, "request_timeout_seconds": 5.0},
            "whatsapp": {"api_base_url": tw.api_base_url,
                         "public_url": f"http://127.0.0.1:{port}", "listen_port": port,
                         "template_content_sid": TEMPLATE_SID,
                         "request_timeout_seconds": 5.0},
        })
        env = {"MEDCRYPT_SERVER_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode(),
               "TELEGRAM_BOT_TOKEN": tg.token, "TWILIO_ACCOUNT_SID": tw.account_sid,
               "TWILIO_AUTH_TOKEN": tw.auth_token,
               "TWILIO_WHATSAPP_FROM": tw.whatsapp_from}
        if configure_logging:
            setup_logging(settings)  # warnings only: the transcript is the output
        self.bot = BotApp(settings, environ=env)
        self.doc = Person("Dr. Rivera", "physician", root / "physician")
        self.pat = Person("Sam", "patient", root / "patient")
        self.tg_seen = 0
        self.wa_seen = 0

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
        with self.bot.sessions() as s:
            tokens = s.scalar(select(func.count()).select_from(BotRelayedToken)) or 0
            out = s.scalar(select(func.count()).select_from(BotOutbox)) or 0
            pairing = s.scalar(select(BotPairing))
        state = pairing.status if pairing else "none"
        return f"[server: pairing {state}; {tokens} relayed token(s); {out} outbox row(s)]"

    # -- the story ----------------------------------------------------------------------
    async def run(self) -> None:
        await self.bot.start()
        try:
            await self.story()
        finally:
            await self.bot.stop()

    async def story(self) -> None:
        print("MedCrypt bridge demo - physician on Telegram, patient on WhatsApp "
              "(sandbox platforms, real bot, real companions)\n")
        print("1. Pairing in the clinic (QR code)")
        await self.doc.run("init", "--role", "physician")
        await self.pat.run("init", "--role", "patient")
        offer = await self.doc.run_json("pair", "offer", "--png",
                                        str(self.root / "offer.png"), "--no-terminal")
        say("Rivera", "companion shows a QR code; pastes the registration into Telegram:")
        say("", _short(offer["registration_token"]))
        self.tg.user_sends_text(PHYSICIAN_CHAT, offer["registration_token"])
        say("Rivera", f"bot: {(await self.doc_inbox(1))[0]}")
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
        say("", self.stored())

        print("\n2. Physician → patient, across platforms")
        out = await self.doc.run("encrypt", "--max-chars", "4096", stdin=SECRET_NOTE)
        say("Rivera", f"types: {SECRET_NOTE!r}")
        for token in find_tokens(out):
            self.tg.user_sends_text(PHYSICIAN_CHAT, token)
        say("", f"Telegram carries: {_short(find_tokens(out)[-1])}")
        got = await self.pat_inbox(len(find_tokens(out)))
        plain = await self.pat.run("decrypt", stdin="\n".join(got))
        say("Sam", f"WhatsApp shows {len(got)} token(s); companion opens: {plain.strip()!r}")
        say("", self.stored())

        print("\n3. Patient → physician")
        out = await self.pat.run("encrypt", "--max-chars", "1600", stdin=PATIENT_NOTE)
        for token in find_tokens(out):
            await self.tw.user_sends_whatsapp_async(PATIENT_NUMBER, token)
        say("Sam", f"types: {PATIENT_NOTE!r}")
        got = await self.doc_inbox(len(find_tokens(out)))
        plain = await self.doc.run("decrypt", stdin="\n".join(got))
        say("Rivera", f"Telegram shows a token; companion opens: {plain.strip()!r}")

        print("\n4. A long message: one Telegram token, re-split by the bot for WhatsApp")
        out = await self.doc.run("encrypt", "--max-chars", "4096", stdin=LONG_NOTE)
        tokens = find_tokens(out)
        for token in tokens:
            self.tg.user_sends_text(PHYSICIAN_CHAT, token)
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
        for token in find_tokens(manifest):
            self.tg.user_sends_text(PHYSICIAN_CHAT, token)
        say("Rivera", f"sends lab-report.pdf encrypted ({container.stat().st_size} bytes) "
                      "and its manifest token")
        await _until(lambda: any(m.media for m in self.tw.messages_to(PATIENT_NUMBER)))
        got = await self.pat_inbox(1 + len(find_tokens(manifest)))
        media = next(m for m in self.tw.messages_to(PATIENT_NUMBER) if m.media).media[0]
        received = self.root / "received.mcf"
        received.write_bytes(media.data)
        tokens = [t for text in got for t in find_tokens(text)]
        await self.pat.run("open-file", str(received), "--manifest", "-",
                           "--out", str(self.root / "opened.pdf"), stdin="\n".join(tokens))
        same = (self.root / "opened.pdf").read_bytes() == LAB_REPORT
        say("Sam", f"WhatsApp fetched the file from the bot's expiring URL; companion "
                   f"opens it: {'identical' if same else 'DIFFERENT'} to the original")

        print("\n6. A plaintext slip is blocked")
        await self.tw.user_sends_whatsapp_async(PATIENT_NUMBER, PLAINTEXT_SLIP)
        say("Sam", f"types straight into WhatsApp: {PLAINTEXT_SLIP!r}")
        for text in await self.pat_inbox(1):
            say("Sam", f"bot: {text}")
        say("Rivera", "receives nothing")

        print("\n7. What the server holds")
        self.report_leaks()

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

    def report_leaks(self) -> None:
        with self.bot.sessions() as s:
            rows = s.scalars(select(BotRelayedToken).order_by(BotRelayedToken.id)).all()
            for row in rows[:4]:
                what = "routing header" if row.kind == "file" else "ciphertext"
                say("server", f"{row.kind:<8} epoch {row.epoch}  {len(row.raw):>5} bytes of "
                              f"{what}  {base64.b64encode(row.raw[:12]).decode()}…")
            if len(rows) > 4:
                say("server", f"… {len(rows) - 4} more, all ciphertext")
        db = (self.root / "bot.db").read_bytes()
        wal = self.root / "bot.db-wal"
        blobs = {"database file": db + (wal.read_bytes() if wal.exists() else b""),
                 "requests Telegram received": self.tg.request_bytes(),
                 "requests Twilio received": self.tw.request_bytes()}
        markers = [SECRET_NOTE, PATIENT_NOTE, LONG_NOTE[:40], "potassium", "HbA1c"]
        for where, blob in blobs.items():
            hits = [m for m in markers if m.encode() in blob]
            say("check", f"{where}: {'LEAK ' + repr(hits) if hits else 'no plaintext'}")
            if hits:
                raise AssertionError(f"plaintext reached the {where}")
        print("\nDone: only tokens crossed the platforms and the server.")


async def _main() -> None:
    port = _port()
    with tempfile.TemporaryDirectory(prefix="medcrypt-demo-") as tmp:
        async with FakeTelegram() as tg, FakeTwilio(
                webhook_url=f"http://127.0.0.1:{port}/twilio/inbound",
                templates={TEMPLATE_SID: "You have a new secure message."}) as tw:
            await Demo(Path(tmp), tg, tw, port).run()


def run_demo() -> int:
    started = time.monotonic()
    asyncio.run(_main())
    print(f"(demo took {time.monotonic() - started:.1f}s)")
    return 0
