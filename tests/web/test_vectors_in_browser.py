"""Every protocol vector check runs in headless Chromium too, under the app's CSP.

The page is web/test/browser/entry.ts bundled by esbuild: the same check functions
``npm test`` runs in Node (Wycheproof, RFC 5869, the XChaCha draft, the v3 session,
pairing, PIN_RECORD and attachment vectors, the parser fuzz loops). It is served from a
loopback ``http.server`` with the Content-Security-Policy header the app is served with,
so libsodium's WASM has to run under ``script-src 'self' 'wasm-unsafe-eval'``. The
browser is Debian's ``chromium`` driven by Playwright for Python; nothing is downloaded.
"""

from __future__ import annotations

import functools
import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.webnode import WEB, ensure_node_modules, node

CHROMIUM = Path("/usr/bin/chromium")
CSP = ("default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'none'; "
       "form-action 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "require-trusted-types-for 'script'")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="Debian's chromium is not installed (scripts/chromium.sh)")


class _Handler(SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    ensure_node_modules()
    subprocess.run([node(), "test/browser/bundle.mjs", str(tmp_path)], cwd=WEB, check=True,
                   capture_output=True, timeout=300)
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(_Handler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


def _node_outcome() -> dict[str, Any]:
    done = subprocess.run([node(), "test/summary.mjs"], cwd=WEB, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    outcome: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return outcome


def test_every_vector_check_passes_in_chromium(served: str) -> None:
    from playwright.sync_api import sync_playwright

    expected = _node_outcome()
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text)
                    if msg.type == "error" else None)
            page.goto(served)
            page.wait_for_function("() => window.__medcryptVectors !== undefined",
                                   timeout=300_000)
            outcome = page.evaluate("() => window.__medcryptVectors")
        finally:
            browser.close()
    assert errors == []
    assert outcome["failures"] == []
    assert outcome["failed"] == 0
    # The same checks as under Node, and every case of them.
    assert outcome["names"] == expected["names"]
    assert outcome["checks"] == expected["checks"] == len(expected["names"])
    assert outcome["passed"] == expected["passed"] > 1000
