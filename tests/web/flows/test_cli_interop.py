"""The web companion pairs with the Python CLI through the real bot on the sandbox:

* web patient <-> CLI physician: ``medcrypt pair offer`` draws the QR; Chromium's fake
  camera plays it (``--use-file-for-fake-video-capture``, an MJPEG file of that PNG made
  with Pillow) and the pairing screen's scanner reads it with jsQR; the web patient's
  accept goes to the bot from WhatsApp, the CLI completes with the code the web screen
  showed, and the KEY_CONFIRM the bot delivered is pasted into the web app;
* CLI patient <-> web physician: the web app's offer text is answered by
  ``medcrypt pair accept``, the accept relayed by the bot is pasted into the web app, and
  the CLI confirms the web's KEY_CONFIRM and marks the pairing verified.

Then one message each way: sealed on the web screen, relayed by the bot, read by
``medcrypt decrypt``; written by ``medcrypt encrypt``, relayed, opened in the thread.

The browser's clock is the rig's (Playwright's fixed time), as the CLI's is
(``MEDCRYPT_NOW``): the offers are valid for ten minutes of that clock.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from medcrypt.crypto.keyless.wire import Kind
from tests.support import web
from tests.support.clocks import MovableClock
from tests.support.companion import PASSPHRASE
from tests.support.conversation import make_escrow
from tests.support.rigs import PATIENT_WA, PHYSICIAN_TG, START, Rig, live_bot, until
from tests.support.terminal import EXE
from tests.support.v3cli import document
from tests.support.v3pairing import replies_to, send, send_and_wait, v3_tokens_to
from tests.support.web_flows import SLOW_MS, set_up_async

pytest.importorskip("playwright.async_api")
from playwright.async_api import async_playwright


@pytest.fixture
async def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    async with live_bot(tmp_path, clock=MovableClock(START), escrow=make_escrow(),
                        export_env=monkeypatch) as running:
        yield running


def cli(tmp: Path, home: Path, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEDCRYPT_PASSPHRASE": PASSPHRASE, "MEDCRYPT_NOW": START.isoformat()}
    env.pop("MEDCRYPT_HOME", None)
    done = subprocess.run([EXE, "--home", str(home), *argv], input=stdin, capture_output=True,
                          text=True, env=env, cwd=tmp, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done


async def acli(tmp: Path, home: Path, *argv: str, stdin: str = "") -> dict[str, Any]:
    done = await asyncio.to_thread(cli, tmp, home, *argv, stdin=stdin)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def mjpeg_of(png: Path, out: Path, frames: int = 10) -> Path:
    """The QR centred on a 640x480 grey frame, as Motion-JPEG (JPEG frames one after
    another, which Chromium's fake capture device plays in a loop)."""
    qr = Image.open(png).convert("RGB")
    qr.thumbnail((440, 440))
    frame = Image.new("RGB", (640, 480), (235, 235, 228))
    frame.paste(qr, ((640 - qr.width) // 2, (480 - qr.height) // 2))
    with out.open("wb") as f:
        for _ in range(frames):
            frame.save(f, format="JPEG", quality=90)
    return out


def chat(rig: Rig, account: str | int, since: int) -> str:
    return "\n".join(replies_to(rig, account)[since:])


async def web_page(pw: Any, server: web.RecordingServer, args: list[str]) -> tuple[Any, Any]:
    browser = await pw.chromium.launch(executable_path=web.chromium_path(), headless=True,
                                       args=args)
    ctx = await browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    await ctx.grant_permissions(["camera"], origin=server.origin)
    page = await ctx.new_page()
    await page.clock.set_fixed_time(START.timestamp())
    await page.goto(server.app_url)
    await page.wait_for_selector(web.READY)
    await page.click("nav button[data-screen=unlock]")
    await page.wait_for_selector("[data-access=setup]")
    await set_up_async(page)
    await page.click("[data-action=export-later]")
    await page.wait_for_selector("[data-pair-step=choose]")
    return browser, page


async def exchange(live: Rig, page: Any, tmp: Path, home: Path, web_account: str | int,
                   cli_account: str | int) -> None:
    """One message each way between the web companion and the CLI, through the bot:
    sealed on the web screen and read by ``medcrypt decrypt``; written by
    ``medcrypt encrypt`` and opened by pasting the web side's chat into the thread."""
    await page.click("nav button[data-screen=threads]")
    await page.click("button[data-thread]")
    await page.wait_for_selector("[data-thread-open]")
    await page.fill("textarea[name=compose]", "hello, from the browser")
    await page.click("[data-action=seal]")
    await page.wait_for_selector("[data-outgoing]")
    sent = await page.input_value("textarea[data-token=out-0]")
    before = len(v3_tokens_to(live, cli_account, Kind.MESSAGE))
    await send(live, web_account, sent)  # relayed without a reply to the sender
    await until(lambda: len(v3_tokens_to(live, cli_account, Kind.MESSAGE)) > before)
    relayed = v3_tokens_to(live, cli_account, Kind.MESSAGE)[-1]
    read = await asyncio.to_thread(cli, tmp, home, "decrypt", stdin=relayed)
    assert read.stdout == "hello, from the browser"
    reply = (await asyncio.to_thread(cli, tmp, home, "encrypt", "--max-chars", "1600",
                                     stdin="hello, from the CLI")).stdout
    since = len(replies_to(live, web_account))
    await send(live, cli_account, reply.strip())
    await until(lambda: len(v3_tokens_to(live, web_account, Kind.MESSAGE)) > 0)
    handled = await page.get_attribute("[data-thread-open]", "data-handled")
    await page.fill("textarea[name=incoming]", chat(live, web_account, since))
    await page.click("[data-action=open]")
    await page.wait_for_selector(f"[data-thread-open]:not([data-handled='{handled}'])")
    texts = await page.eval_on_selector_all("li.msg[data-dir=in] p",
                                            "ps => ps.map(p => p.textContent)")
    assert texts == ["hello, from the CLI"]


async def homes(tmp: Path, rig: Rig, role: str) -> Path:
    home = tmp / role
    argv = ["init", "--role", role]
    if role == "physician":
        assert rig.escrow is not None
        argv += ["--escrow-key", base64.b64encode(rig.escrow.public).decode()]
    await asyncio.to_thread(cli, tmp, home, *argv)
    return home


async def test_web_patient_scans_the_cli_physicians_qr_and_pairs_through_the_bot(
        live: Rig, web_build: web.Build, tmp_path: Path) -> None:
    doc = await homes(tmp_path, live, "physician")
    since = len(replies_to(live, PHYSICIAN_TG))
    offer = await acli(tmp_path, doc, "pair", "offer", "--png", "offer.png", "--json")
    before, _ = await send(live, PHYSICIAN_TG, str(offer["registration_token"]))
    await until(lambda: any("registered" in r for r in replies_to(live, PHYSICIAN_TG)[before:]))
    video = mjpeg_of(tmp_path / "offer.png", tmp_path / "offer.mjpeg")
    with web.serve(web_build.outdir) as server:
        async with async_playwright() as pw:
            browser, page = await web_page(pw, server, [
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={video}"])
            try:
                await page.click("[data-role=patient]")
                await page.fill("input[name=name]", "Dr Rivera")
                await page.click("[data-action=scan]")
                await page.wait_for_selector("textarea[data-token=accept]", timeout=SLOW_MS)
                accept = await page.input_value("textarea[data-token=accept]")
                code = await page.get_attribute("[data-code]", "data-code")
                assert code
                await send_and_wait(live, PATIENT_WA, accept)
                await until(lambda: accept in v3_tokens_to(live, PHYSICIAN_TG, Kind.PAIR_ACCEPT))
                await until(lambda: "account ending in" in chat(live, PHYSICIAN_TG, since))
                done = await acli(tmp_path, doc, "pair", "complete", "-", "--no-history",
                                  "--json", "--code", code, stdin=chat(live, PHYSICIAN_TG, since))
                confirm = str(done["key_confirm_token"])
                pat_since = len(replies_to(live, PATIENT_WA))
                await send_and_wait(live, PHYSICIAN_TG, confirm)
                await until(lambda: confirm in v3_tokens_to(live, PATIENT_WA, Kind.KEY_CONFIRM))
                await page.fill("textarea[name=confirm]", chat(live, PATIENT_WA, pat_since))
                await page.click("[data-action=finish]")
                await page.wait_for_selector("[data-pair-step=verify]")
                assert await page.get_attribute("[data-code]", "data-code") == code
                await page.click("[data-action=mark-verified]")
                await page.wait_for_selector("[data-verified=true]")
                pid = str(offer["pairing_id"])
                assert document(doc)["pairings"][pid]["pinned_record"]
                await exchange(live, page, tmp_path, doc, PATIENT_WA, PHYSICIAN_TG)
            finally:
                await browser.close()


async def test_cli_patient_answers_the_web_physicians_offer_through_the_bot(
        live: Rig, web_build: web.Build, tmp_path: Path) -> None:
    pat = await homes(tmp_path, live, "patient")
    with web.serve(web_build.outdir) as server:
        async with async_playwright() as pw:
            browser, page = await web_page(pw, server, [])
            try:
                await page.click("[data-role=physician]")
                await page.fill("input[name=name]", "Sam")
                await page.click("[data-action=make-offer]")
                await page.wait_for_selector("textarea[data-token=offer]")
                offer_text = await page.input_value("textarea[data-token=offer]")
                register = await page.input_value("textarea[data-token=register]")
                since = len(replies_to(live, PHYSICIAN_TG))
                await send_and_wait(live, PHYSICIAN_TG, register, expect="registered")
                accepted = await acli(tmp_path, pat, "pair", "accept", "--offer", offer_text,
                                      "--json", "--no-history")
                accept = str(accepted["accept_token"])
                await send_and_wait(live, PATIENT_WA, accept)
                await until(lambda: accept in v3_tokens_to(live, PHYSICIAN_TG, Kind.PAIR_ACCEPT))
                await page.fill("textarea[name=accept]", chat(live, PHYSICIAN_TG, since))
                await page.click("[data-action=check-accept]")
                await page.wait_for_selector("[data-pair-step=physician-code]")
                assert await page.get_attribute("[data-code]", "data-code") \
                    == accepted["verification_code"]
                await page.click("[data-action=confirm]")
                await page.wait_for_selector("[data-pair-step=verify]")
                confirm = await page.input_value("textarea[data-token=confirm]")
                pat_since = len(replies_to(live, PATIENT_WA))
                await send_and_wait(live, PHYSICIAN_TG, confirm)
                await until(lambda: confirm in v3_tokens_to(live, PATIENT_WA, Kind.KEY_CONFIRM))
                await asyncio.to_thread(cli, tmp_path, pat, "pair", "confirm", "-",
                                        stdin=chat(live, PATIENT_WA, pat_since))
                assert document(pat)["pairings"][str(accepted["pairing_id"])]["verified"]
                await exchange(live, page, tmp_path, pat, PHYSICIAN_TG, PATIENT_WA)
            finally:
                await browser.close()
