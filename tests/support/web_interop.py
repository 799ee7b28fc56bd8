"""The two companions of the bot-interop load test (tests/web/test_interop_bot.py).

* :class:`WebCompanion`: the real web app in headless Chromium (Playwright's async API,
  since the live bot runs in the test's event loop), driven through its screens: setup,
  pairing, unlock, the thread (paste, files).
* :class:`ThreadFunctions`: for the bulk, the app's own thread transactions
  (``web/src/app/flows/thread-store.ts``: ``seal``, ``collect`` and ``open``, one keystore
  transaction each, committed before the output is returned) bundled from
  ``web_interop_page/entry.ts`` and called in batches by page functions on a page of the
  app's origin, on the keystore the app set up. Why not the screen for the bulk: it
  redraws every line of the thread after each message and Chromium lays the thread out
  again, which grows with the thread (0.6-1 s a message at a few hundred lines on this
  machine, ~90 % of the browser's time in a CPU profile).
* :class:`PythonCompanion`: the Python v3 session (``crypto.endpoint.v3.session``) with
  the keyless part assembler, as the CLI's ``encrypt``/``decrypt`` use them, kept in
  process (the CLI would pay a real Argon2id unlock per command).
* :class:`Inbox`: what the sandbox delivered to one chat, read from the fake Telegram in
  order, counted as whole messages (single tokens plus complete part groups).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from medcrypt.crypto.endpoint.envelope import ContentType
from medcrypt.crypto.endpoint.v3.session import Opened, Session
from medcrypt.crypto.errors import MedCryptError
from medcrypt.crypto.keyless import v3wire
from medcrypt.crypto.keyless.parts import PartAssembler, split_token
from medcrypt.crypto.keyless.wire import Kind, find_tokens, parse_token
from tests.support.rigs import Rig, until
from tests.support.web import READY, RecordingServer
from tests.support.web_flows import set_up_async
from tests.support.webnode import WEB, ensure_node_modules, node

#: Telegram's limit (sendMessage counts 4096 UTF-16 units; tokens are ASCII).
TELEGRAM_CHARS = 4096
SLOW_MS = 120_000

# One paste: the text goes into the thread's "incoming" box and "Open" is pressed; the
# screen counts handled pastes in data-handled and shows a typed error's code.
_PASTE = """
async ({text, timeoutMs}) => {
  const pause = () => new Promise((r) => setTimeout(r, 0));
  const q = (s) => document.querySelector(s);
  const before = Number(q("[data-thread-open]").getAttribute("data-handled"));
  q("textarea[name=incoming]").value = text;
  q("[data-action=open]").click();
  const deadline = performance.now() + timeoutMs;
  while (Number(q("[data-thread-open]")?.getAttribute("data-handled")) !== before + 1) {
    if (performance.now() > deadline) return {error: "timeout"};
    await pause();
  }
  const alert = q("main [role=alert][data-error]");
  return {error: alert === null ? null : alert.getAttribute("data-error")};
}
"""


class WebCompanion:
    """The web app on one page, set up, paired and with its thread open."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.csp = ""

    async def set_up(self, server: RecordingServer) -> str:
        """Set up through the screen: read the drawn words, type them back; returns them."""
        page = self.page
        await self.open_app(server)
        await page.click("nav button[data-screen=unlock]")
        await page.wait_for_selector("[data-access=setup]")
        passphrase = await set_up_async(page)
        await page.click("[data-action=export-later]")
        await page.wait_for_selector("[data-pair-step=choose]")
        return passphrase

    async def open_app(self, server: RecordingServer) -> None:
        response = await self.page.goto(server.app_url)
        assert response is not None
        self.csp = response.headers["content-security-policy"]
        await self.page.wait_for_selector(READY)

    async def unlock(self, passphrase: str) -> None:
        page = self.page
        await page.click("nav button[data-screen=unlock]")
        await page.wait_for_selector("[data-access=unlock]")
        await page.fill("form[data-form=unlock] input[name=passphrase]", passphrase)
        await page.click("form[data-form=unlock] button[type=submit]")
        # Unlocked, the app goes on to the pairing screen; a refusal shows its code.
        await page.wait_for_selector("[data-pair-step], main [role=alert][data-error]",
                                     timeout=SLOW_MS)
        refused = await page.query_selector("main [role=alert][data-error]")
        assert refused is None, await refused.get_attribute("data-error")

    async def accept_offer(self, offer: str, name: str) -> tuple[str, str]:
        """The patient pastes the offer text; returns the accept token and the code."""
        page = self.page
        await page.click("[data-role=patient]")
        await page.fill("input[name=name]", name)
        await page.fill("textarea[name=offer]", offer)
        await page.click("[data-action=use-offer]")
        await page.wait_for_selector("textarea[data-token=accept]")
        code = await page.get_attribute("[data-code]", "data-code")
        return await page.input_value("textarea[data-token=accept]"), str(code)

    async def finish_pairing(self, chat_text: str) -> str:
        """Paste the chat holding KEY_CONFIRM, mark verified; returns the code shown."""
        page = self.page
        await page.fill("textarea[name=confirm]", chat_text)
        await page.click("[data-action=finish]")
        await page.wait_for_selector("[data-pair-step=verify]")
        code = await page.get_attribute("[data-code]", "data-code")
        await page.click("[data-action=mark-verified]")
        await page.wait_for_selector("[data-verified=true]")
        return str(code)

    async def open_thread(self) -> None:
        await self.page.click("nav button[data-screen=threads]")
        await self.page.click("button[data-thread]")
        await self.page.wait_for_selector("[data-thread-open]")

    async def paste(self, text: str) -> str | None:
        """Paste ``text`` into the open thread; the typed error's code it showed, if any."""
        done = await self.page.evaluate(_PASTE, {"text": text, "timeoutMs": SLOW_MS})
        assert done["error"] != "timeout"
        return done["error"]  # type: ignore[no-any-return]

    async def incoming(self) -> list[str]:
        """The texts of the thread's received lines, as shown."""
        texts: list[str] = await self.page.eval_on_selector_all(
            "li.msg[data-dir=in] > p", "ps => ps.map(p => p.textContent)")
        return texts


_BUNDLE = """
import { build } from "esbuild";
await build({ entryPoints: [process.argv[1]], outfile: process.argv[2], bundle: true,
              platform: "browser", format: "esm", target: "es2022", logLevel: "warning" });
"""
_PAGE = (b'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>interop</title>'
         b'<script type="module" src="/interop/interop.js"></script></head><body></body></html>')


def build_thread_functions(out: Path) -> bytes:
    """Bundle web_interop_page/entry.ts (the app's thread transactions) with esbuild."""
    ensure_node_modules()
    script = out / "interop.js"
    subprocess.run([node(), "--input-type=module", "-e", _BUNDLE,
                    str(Path(__file__).with_name("web_interop_page") / "entry.ts"), str(script)],
                   cwd=WEB, check=True, capture_output=True, timeout=300)
    return script.read_bytes()


class ThreadFunctions:
    """The app's thread transactions on a page of the app's origin (``/interop/``,
    outside the service worker's scope), served by Playwright's router with the app's
    own Content-Security-Policy header; the keystore is the one the app set up there."""

    def __init__(self, page: Any, pairing_id: str) -> None:
        self.page = page
        self.id = pairing_id

    async def load(self, origin: str, script: bytes, csp: str, passphrase: str) -> None:
        headers = {"Content-Security-Policy": csp, "Cache-Control": "no-store"}

        async def serve(route: Any) -> None:
            if route.request.url.endswith("/interop/interop.js"):
                await route.fulfill(body=script, content_type="text/javascript", headers=headers)
            else:
                await route.fulfill(body=_PAGE, content_type="text/html", headers=headers)

        await self.page.route(f"{origin}/interop/**", serve)
        await self.page.goto(f"{origin}/interop/index.html")
        await self.page.wait_for_selector("html[data-interop=ready]", state="attached")
        await self.page.evaluate("p => medcryptInterop.unlock(p)", passphrase)

    async def seal(self, texts: list[str], platform: str = "telegram") -> list[list[str]]:
        out: list[list[str]] = await self.page.evaluate(
            "([id, texts, platform]) => medcryptInterop.seal(id, texts, platform)",
            [self.id, texts, platform])
        return out

    async def paste(self, text: str) -> tuple[list[str], str | None]:
        """The texts the paste opened, and the typed error's code that stopped it."""
        done = await self.page.evaluate("([id, text]) => medcryptInterop.paste(id, text)",
                                        [self.id, text])
        return done["shown"], done["error"]

    async def close(self) -> None:
        await self.page.evaluate("() => medcryptInterop.lock()")


@dataclass
class PythonCompanion:
    """The Python v3 session with the keyless part assembler."""

    session: Session
    assembler: PartAssembler = field(default_factory=PartAssembler)

    def seal(self, body: bytes, now: datetime,
             content_type: ContentType = ContentType.TEXT) -> list[str]:
        return split_token(self.session.encrypt(body, content_type, now=now), TELEGRAM_CHARS)

    def open(self, texts: list[str], now: datetime) -> list[Opened | MedCryptError]:
        """Every whole message the texts complete, opened (or the typed error)."""
        out: list[Opened | MedCryptError] = []
        for text in texts:
            joined = self.assembler.add(text)
            if joined is None:
                continue
            try:
                out.append(self.session.decrypt(joined, now=now))
            except MedCryptError as exc:
                out.append(exc)
        return out


def _kind(token: str) -> Kind:
    return parse_token(token).header.kind


@dataclass
class Inbox:
    """The v3 MESSAGE tokens and parts the bot delivered to one Telegram chat, in order.

    ``take`` returns the whole messages that arrived since the last take, each as the
    list of its token texts (one MESSAGE token, or every part of one group).
    """

    rig: Rig
    chat: int
    seen: int = 0
    _groups: dict[bytes, list[str]] = field(default_factory=dict)
    _ready: list[list[str]] = field(default_factory=list)

    def _scan(self) -> int:
        sent = self.rig.tg.messages_to(self.chat)
        for message in sent[self.seen:]:
            for token in find_tokens(message.text or ""):
                if not token.startswith(v3wire.PREFIX):
                    continue
                kind = _kind(token)
                if kind is Kind.MESSAGE:
                    self._ready.append([token])
                elif kind is Kind.PART:
                    part = parse_token(token).part
                    assert part is not None
                    group = self._groups.setdefault(part.group_id, [])
                    group.append(token)
                    if len(group) == part.count:
                        self._ready.append(self._groups.pop(part.group_id))
        self.seen = len(sent)
        return len(self._ready)

    def documents(self) -> list[bytes]:
        return [m.document for m in self.rig.tg.messages_to(self.chat) if m.document]

    async def take(self, count: int, timeout: float = 60) -> list[list[str]]:
        """Wait until ``count`` whole messages are waiting; take exactly those."""
        await until(lambda: self._scan() >= count, timeout=timeout)
        assert len(self._ready) == count, f"{len(self._ready)} messages arrived, {count} sent"
        taken, self._ready = self._ready, []
        return taken


def opened_bodies(results: list[Opened | MedCryptError],
                  check: Callable[[Opened], None] | None = None) -> list[bytes]:
    """The bodies of opened messages; fails on any typed error."""
    bodies = []
    for r in results:
        assert isinstance(r, Opened), repr(r)
        if check is not None:
            check(r)
        bodies.append(r.body)
    return bodies
