"""Issue 14's interop load test: 1,000 messages between the web companion in Chromium and
the Python companion, both ways, through the real bot on the sandbox's Telegram.

The web app (a patient, on a phone-sized page) pairs with a Python physician through the
bot as in the flow tests, then both write in rounds across a month boundary (30 November
to 1 December): short texts and long ones that need Telegram parts. Every token goes to
the sandbox from the sender's chat and is read back from what the bot delivered to the
other chat; some groups' parts reach the bot out of order, each receiver gets its round's
parts shuffled together, and a tenth of the messages is held back a round. Then a whole
token is sent again (a replay): both sides refuse it with ReplayDetected and show nothing
twice. Then a 20,000,000-byte random file each way, compared by SHA-256.

Why Telegram for both people: the 20 MB container (Padmé-padded, 20,452,602 bytes) fits
the Telegram Bot API's 20 MiB download limit the bot enforces, and not WhatsApp's
16,000,000 bytes through Twilio; this test checks both facts against the running bot.

Pacing is switched off (Telegram's 30 messages/s, the per-user 30 a minute): they are
politeness towards the platforms, tested elsewhere, and would make this test wait ~45 s
for nothing. The bulk runs the app's own thread transactions in batches of page
functions (web_interop.ThreadFunctions); the app's screens do the pairing, show the
thread afterwards (every message once), refuse the replay and handle both files.

Where the time goes (printed at the end): on this two-core machine under load ~9,
230 s in all, of which the web side's 1,000 keystore transactions ~155 s (each one
clones, serialises, seals and durably writes the whole document, thread history
included, so it grows with the thread), the bot's relay ~24 s, the two files ~24 s.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from medcrypt.bot.domain.messages import Platform
from medcrypt.crypto.endpoint.attachment import Manifest, container_size, open_file, seal_file
from medcrypt.crypto.endpoint.envelope import ContentType
from medcrypt.crypto.endpoint.v3.session import Opened, Session
from medcrypt.crypto.errors import ReplayDetected
from medcrypt.crypto.keyless import v3wire
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.crypto.keyless.wire import Direction, Kind
from tests.support import web
from tests.support.clocks import MovableClock
from tests.support.conversation import make_escrow
from tests.support.rigs import PHYSICIAN_TG, Rig, live_bot, until
from tests.support.v3pairing import register, replies_to, send_and_wait, v3_tokens_to
from tests.support.web_interop import (
    Inbox,
    PythonCompanion,
    ThreadFunctions,
    WebCompanion,
    build_thread_functions,
    opened_bodies,
)

pytest.importorskip("playwright.async_api")
from playwright.async_api import async_playwright

pytestmark = pytest.mark.xdist_group("web-interop-bot")

#: The patient's Telegram account (the file does not fit WhatsApp: see the docstring).
PATIENT_TG = 5550002
MESSAGES = 1000
ROUNDS = 20
FILE_BYTES = 20_000_000
PAIRED_AT = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
NOVEMBER = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 1, 0, 5, tzinfo=UTC)  # November is in its grace window
ALPHABET = "abcdefghij klmnop ñáéíóú ¿¡ 0123456789 \n🙂 – “quotes”"


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Rig]:
    async with live_bot(tmp_path, clock=MovableClock(PAIRED_AT), escrow=make_escrow(),
                        relay={"user_messages_per_minute": 0},
                        telegram={"global_messages_per_second": 0}) as running:
        yield running


def _text(rng: random.Random, tag: str) -> str:
    """A unique text (its tag); one in eight needs Telegram parts once sealed."""
    size = rng.randrange(3000, 7000) if rng.random() < 0.125 else rng.randrange(1, 300)
    return f"{tag} " + "".join(rng.choice(ALPHABET) for _ in range(size))


def _post(rig: Rig, chat: int, pieces: list[str], rng: random.Random) -> None:
    """The sender's chat app sends the pieces; half the groups of parts out of order."""
    pieces = list(pieces)
    if len(pieces) > 1 and rng.random() < 0.5:
        rng.shuffle(pieces)
    for piece in pieces:
        rig.tg.user_sends_text(chat, piece)


def _hold_some(rng: random.Random, messages: list[list[str]],
               last: bool) -> tuple[list[list[str]], list[list[str]]]:
    """Split a round's arrivals into (delivered now, held back for the next round)."""
    if last:
        return messages, []
    now: list[list[str]] = []
    held: list[list[str]] = []
    for m in messages:
        (held if rng.random() < 0.1 else now).append(m)
    return now, held


def _shuffled_parts(rng: random.Random, messages: list[list[str]]) -> list[str]:
    texts = [t for m in messages for t in m]
    rng.shuffle(texts)
    return texts


async def _pair(rig: Rig, page_side: WebCompanion) -> tuple[bytes, PythonCompanion]:
    """The Python physician registers an offer; the web patient answers it from its
    Telegram chat; the physician confirms there; KEY_CONFIRM is pasted into the web app.
    Both sides show the same code."""
    assert rig.escrow is not None
    doc = await register(rig, rig.escrow.public)
    accept, code = await page_side.accept_offer(doc.pairing.offer.to_qr_text(), "Dr Rivera")
    await send_and_wait(rig, PATIENT_TG, accept)
    await until(lambda: accept in v3_tokens_to(rig, PHYSICIAN_TG, Kind.PAIR_ACCEPT))
    screen = doc.pairing.receive_accept(accept, clock=rig.clock)
    assert screen.code == code
    done = doc.pairing.decide("confirm", doc.identity, clock=rig.clock)
    since = len(replies_to(rig, PATIENT_TG))
    await send_and_wait(rig, PHYSICIAN_TG, done.token)
    await until(lambda: done.token in v3_tokens_to(rig, PATIENT_TG, Kind.KEY_CONFIRM))
    assert await page_side.finish_pairing("\n".join(replies_to(rig, PATIENT_TG)[since:])) == code
    return doc.pairing.offer.pairing_id, PythonCompanion(Session.from_pairing(done.secrets))


async def test_a_thousand_messages_through_the_bot_each_read_exactly_once(
        live: Rig, web_build: web.Build, tmp_path: Path) -> None:
    started = time.perf_counter()
    phases: dict[str, float] = {}
    rng = random.Random("issue 14 interop through the bot")
    to_web, to_python = Inbox(live, PATIENT_TG), Inbox(live, PHYSICIAN_TG)
    with web.serve(web_build.outdir) as server:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=web.chromium_path(),
                                               headless=True)
            try:
                ctx = await browser.new_context(viewport={"width": 390, "height": 844},
                                                locale="en-US", accept_downloads=True)
                page = await ctx.new_page()
                await page.clock.set_fixed_time(PAIRED_AT.timestamp())
                browser_side = WebCompanion(page)
                passphrase = await browser_side.set_up(server)
                pid, python = await _pair(live, browser_side)
                phases["set up and pair"] = time.perf_counter() - started
                # The bulk runs the app's thread transactions on a page of the app's
                # origin (web_interop.ThreadFunctions): the app tab goes away first, as
                # only one tab may hold the keystore.
                functions = ThreadFunctions(page, pid.hex())
                await functions.load(server.origin, await asyncio.to_thread(
                    build_thread_functions, tmp_path), browser_side.csp, passphrase)

                # ---- 1,000 messages in rounds, across the month boundary.
                sent: dict[str, list[str]] = {"web": [], "python": []}
                got_python: list[bytes] = []
                got_web: list[str] = []
                held: dict[str, list[list[str]]] = {"web": [], "python": []}
                last_single: dict[str, str] = {}
                parted = 0
                months: set[int] = set()
                t0 = time.perf_counter()
                for r in range(ROUNDS):
                    now = (NOVEMBER if r < ROUNDS // 2 else DECEMBER) + timedelta(minutes=r)
                    live.clock.set(now)  # type: ignore[attr-defined]
                    await page.clock.set_fixed_time(now.timestamp())
                    n_web = rng.randrange(15, 36)
                    web_texts = [_text(rng, f"w{r:02d}.{i:02d}") for i in range(n_web)]
                    py_texts = [_text(rng, f"p{r:02d}.{i:02d}")
                                for i in range(MESSAGES // ROUNDS - n_web)]
                    lap = time.perf_counter()
                    web_out = await functions.seal(web_texts)
                    lap = _spent(phases, "web seals", lap)
                    py_out = [python.seal(t.encode(), now) for t in py_texts]
                    lap = _spent(phases, "python seals", lap)
                    parted += sum(len(p) > 1 for p in web_out + py_out)
                    sent["web"] += web_texts
                    sent["python"] += py_texts
                    posts = [(PATIENT_TG, p) for p in web_out] + \
                        [(PHYSICIAN_TG, p) for p in py_out]
                    rng.shuffle(posts)
                    for chat, pieces in posts:
                        _post(live, chat, pieces, rng)
                    last = r == ROUNDS - 1
                    arrived_web = await to_web.take(len(py_out))
                    arrived_py = await to_python.take(len(web_out))
                    lap = _spent(phases, "relay", lap)
                    for who, arrived in (("web", arrived_web), ("python", arrived_py)):
                        singles = [m[0] for m in arrived if len(m) == 1]
                        if singles:
                            last_single[who] = singles[-1]
                        months.update(v3wire.parse_message_text(t).header.epoch
                                      for t in singles)
                    now_web, hold_web = _hold_some(rng, arrived_web, last)
                    now_py, hold_py = _hold_some(rng, arrived_py, last)
                    shown, error = await functions.paste(
                        "\n".join(_shuffled_parts(rng, held["web"] + now_web)))
                    assert error is None, error
                    got_web += shown
                    lap = _spent(phases, "web opens", lap)
                    got_python += opened_bodies(
                        python.open(_shuffled_parts(rng, held["python"] + now_py), now))
                    lap = _spent(phases, "python opens", lap)
                    held = {"web": hold_web, "python": hold_py}
                phases["1,000 messages"] = time.perf_counter() - t0
                assert Counter(got_web) == Counter(sent["python"])  # each once, none lost
                assert Counter(got_python) == Counter(t.encode() for t in sent["web"])

                # ---- The app again: the thread shows every message it read, once.
                await functions.close()
                await page.clock.set_fixed_time(live.clock.now().timestamp())
                await browser_side.open_app(server)
                await browser_side.unlock(passphrase)
                await browser_side.open_thread()
                shown = await browser_side.incoming()
                assert parted >= 50  # long ones travelled as Telegram parts
                assert sum(len(v) for v in sent.values()) == MESSAGES
                assert len(set(shown)) == len(shown) == len(sent["python"])
                assert Counter(shown) == Counter(sent["python"])
                # Both months' tokens travelled (some November ones read in December).
                assert months == {epoch_of(NOVEMBER), epoch_of(NOVEMBER) + 1}

                # ---- A replay: a whole token delivered once is sent to the bot again.
                _post(live, PHYSICIAN_TG, [last_single["web"]], rng)
                replayed = await to_web.take(1)
                assert await browser_side.paste(replayed[0][0]) == "replay_detected"
                assert await browser_side.incoming() == shown  # nothing shown twice
                _post(live, PATIENT_TG, [last_single["python"]], rng)
                replayed = await to_python.take(1)
                outcome = python.open(replayed[0], DECEMBER + timedelta(minutes=ROUNDS))
                assert [type(o) for o in outcome] == [ReplayDetected]

                # ---- A 20 MB file each way, through the bot as a Telegram document.
                t0 = time.perf_counter()
                await _file_web_to_python(live, browser_side, python, pid, tmp_path)
                await _file_python_to_web(live, browser_side, python, pid, tmp_path, to_web)
                phases["20 MB both ways"] = time.perf_counter() - t0
            finally:
                await browser.close()
    phases["total"] = time.perf_counter() - started
    print("web interop through the bot:",
          ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()))


def _spent(phases: dict[str, float], name: str, since: float) -> float:
    """Add the time since ``since`` to ``phases[name]``; returns now (the next lap)."""
    lap = time.perf_counter()
    phases[name] = phases.get(name, 0.0) + lap - since
    return lap


def _random_file(path: Path) -> bytes:
    data = os.urandom(FILE_BYTES)
    path.write_bytes(data)
    return data


async def _file_web_to_python(rig: Rig, side: WebCompanion, python: PythonCompanion,
                              pid: bytes, tmp: Path) -> None:
    size = container_size(FILE_BYTES)
    telegram = rig.bot.services.channels[Platform.TELEGRAM]
    whatsapp = rig.bot.services.channels[Platform.WHATSAPP]
    assert size <= telegram.max_file_in and size <= telegram.max_file_out
    assert size > whatsapp.max_file_in  # why both people are on Telegram here
    original = _random_file(tmp / "scan.pdf")
    page = side.page
    before = await page.query_selector("[data-outgoing]")
    async with page.expect_download() as info:
        await page.set_input_files("input[name=attach]", str(tmp / "scan.pdf"))
    download = await info.value
    await download.save_as(tmp / "from-web.mcf")
    container = (tmp / "from-web.mcf").read_bytes()
    assert len(container) == size
    await page.wait_for_function(
        "b => { const c = document.querySelector('[data-outgoing]'); return c && c !== b; }",
        arg=before)
    count = int(await page.get_attribute("[data-outgoing]", "data-outgoing") or 0)
    pieces = [await page.input_value(f"textarea[data-token=out-{i}]") for i in range(count)]
    to_python = Inbox(rig, PHYSICIAN_TG, seen=len(rig.tg.messages_to(PHYSICIAN_TG)))
    files_before = len(to_python.documents())
    rig.tg.user_sends_document(PATIENT_TG, download.suggested_filename, container)
    for piece in pieces:
        rig.tg.user_sends_text(PATIENT_TG, piece)
    manifest_token = await to_python.take(1)
    await until(lambda: len(to_python.documents()) > files_before, timeout=60)
    relayed = to_python.documents()[-1]
    assert relayed == container  # the bot relays the container byte for byte
    opened = python.open(manifest_token[0], rig.clock.now())
    assert len(opened) == 1 and isinstance(opened[0], Opened)
    assert opened[0].content_type is ContentType.ATTACHMENT_MANIFEST
    manifest = Manifest.from_bytes(opened[0].body)
    out = io.BytesIO()
    await asyncio.to_thread(open_file, io.BytesIO(relayed), out, manifest, pairing_id=pid)
    assert hashlib.sha256(out.getvalue()).digest() == hashlib.sha256(original).digest()


async def _file_python_to_web(rig: Rig, side: WebCompanion, python: PythonCompanion,
                              pid: bytes, tmp: Path, to_web: Inbox) -> None:
    original = _random_file(tmp / "lab.pdf")
    now = rig.clock.now()
    container = io.BytesIO()
    manifest = await asyncio.to_thread(
        seal_file, io.BytesIO(original), container, pairing_id=pid, epoch=epoch_of(now),
        direction=Direction.PHYSICIAN_TO_PATIENT, name="lab.pdf", mime_type="application/pdf")
    pieces = python.seal(manifest.to_bytes(), now, ContentType.ATTACHMENT_MANIFEST)
    files_before = len(to_web.documents())
    rig.tg.user_sends_document(PHYSICIAN_TG, "lab.pdf.mcf", container.getvalue())
    for piece in pieces:
        rig.tg.user_sends_text(PHYSICIAN_TG, piece)
    manifest_token = await to_web.take(1)
    await until(lambda: len(to_web.documents()) > files_before, timeout=60)
    relayed = to_web.documents()[-1]
    assert relayed == container.getvalue()
    (tmp / "relayed.mcf").write_bytes(relayed)
    assert await side.paste("\n".join(manifest_token[0])) is None
    page = side.page
    async with page.expect_download() as info:
        await page.set_input_files("[data-file='lab.pdf'] input[name=container]",
                                   str(tmp / "relayed.mcf"))
    download = await info.value
    await download.save_as(tmp / "opened.pdf")
    assert hashlib.sha256((tmp / "opened.pdf").read_bytes()).digest() == \
        hashlib.sha256(original).digest()
