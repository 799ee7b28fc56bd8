"""The keystore tests' rig: the test page bundled with esbuild, served from loopback,
and headless Debian Chromium driven by Playwright, with a persistent profile so a
"browser restart" is the real thing (the process ends, a new one opens the same dir).

Shared by the tests in tests/web/keystore/, whose page it bundles;
nothing here is a fake: the page runs web/src/keystore and libsodium's WASM as shipped.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # conftest.py checks Playwright is installed before this is imported
    from playwright.sync_api import BrowserContext, Page, Playwright

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
ENTRY = ROOT / "tests" / "web" / "keystore" / "page" / "entry.ts"
CHROMIUM = os.environ.get("MEDCRYPT_CHROMIUM", "/usr/bin/chromium")
#: The one passphrase most tests use: five words of the English BIP-39 list in canonical
#: form, the shape of a passphrase the app draws (ADR 0042); fixed, so failures replay.
PASS = "orbit valley cabin noble ticket"

INDEX_HTML = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>keystore test</title></head>
<body><script type="module" src="./entry.js"></script></body></html>
"""


def build_page(out_dir: Path) -> Path:
    """Bundle the test entry (and web/src/keystore with libsodium) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    esbuild = WEB / "node_modules" / ".bin" / "esbuild"
    if not esbuild.exists():
        raise RuntimeError("web/node_modules is missing: run `cd web && npm ci`")
    subprocess.run(
        [str(esbuild), str(ENTRY), "--bundle", "--format=esm", "--target=es2022",
         "--platform=browser", f"--outfile={out_dir / 'entry.js'}", "--log-level=warning"],
        check=True, cwd=WEB)
    (out_dir / "index.html").write_bytes(INDEX_HTML)
    return out_dir


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a secure context: WebCrypto and Web Locks work)."""
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


def launch(pw: Playwright, profile_dir: Path) -> BrowserContext:
    """Headless Chromium on a persistent profile directory (no browser download)."""
    return pw.chromium.launch_persistent_context(
        str(profile_dir), executable_path=CHROMIUM, headless=True,
        args=["--no-first-run", "--no-default-browser-check"])


def open_page(context: BrowserContext, url: str) -> Page:
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("document.title === 'keystore-test-ready'")
    return page


def call(page: Page, name: str, *args: Any) -> dict[str, Any]:
    """``window.T[name](...args)``: {"ok": value} or {"error": code, "message": ...}."""
    result: dict[str, Any] = page.evaluate(
        "([name, args]) => window.T[name](...args)", [name, list(args)])
    return result


def ok(page: Page, name: str, *args: Any) -> Any:
    result = call(page, name, *args)
    assert "ok" in result, f"{name} failed: {result}"
    return result["ok"]


def code(page: Page, name: str, *args: Any) -> str:
    result = call(page, name, *args)
    assert "error" in result, f"{name} succeeded where it should fail: {result}"
    code_: str = result["error"]
    return code_


def browser_pid(profile_dir: Path) -> int:
    """The Chromium browser process using ``profile_dir`` (to crash it for real)."""
    needle = f"--user-data-dir={profile_dir}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if needle in argv and not any(a.startswith(b"--type=") for a in argv):
            return int(entry.name)
    raise LookupError("no Chromium process for this profile")


def crash(profile_dir: Path) -> None:
    """SIGKILL the browser: no unload handlers, no orderly IndexedDB shutdown."""
    pid = browser_pid(profile_dir)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def shown_across_crashes(pw: Playwright, url: str, profile_dir: Path, rounds: int,
                         method: str, *args: Any) -> list[str]:
    """``rounds`` times: start the browser, unlock, call ``method`` (which shows a token
    through the page's ``show``), and SIGKILL the browser at the moment it is shown.
    Returns the tokens shown, in order. The keystore must exist in ``profile_dir``."""
    from playwright.sync_api import Error as PlaywrightError

    shown: list[str] = []
    for _ in range(rounds):
        ctx = launch(pw, profile_dir)
        page = open_page(ctx, url)

        def show(_source: object, token: str) -> None:
            shown.append(token)
            crash(profile_dir)  # the user saw it; now the phone dies

        page.expose_binding("show", show)
        ok(page, "unlock", PASS)
        with contextlib.suppress(PlaywrightError):  # the browser is gone, as intended
            call(page, method, *args)
        with contextlib.suppress(PlaywrightError):
            ctx.close()
    return shown


def copy_profile(src: Path, dst: Path) -> None:
    """Copy a (closed) profile directory, as someone with the disk would."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("Singleton*"))


def b64d(text: str) -> bytes:
    return base64.b64decode(text)


def b64e(data: bytes) -> str:
    return base64.b64encode(data).decode()
