"""Decrypt of a 4 KiB v3 token: the web companion (Node and headless Chromium) against
the Python companion's ``Session.decrypt``, in the same run (issue 14).

``python -m bench.bench_web_decrypt [--quick]`` or ``python -m bench.run web_decrypt``.
Goal: the browser at most 2x the Python companion. Nothing is asserted.

The same work on each side, per operation: load the physician's ``medcrypt-session/3``
document, open a 4096-byte TEXT message (plan, AEAD, Ed25519 verification of the
envelope) and export the new document. The TypeScript ``decrypt`` is pure, so it reopens
one (state, token) pair; Python loads the document each time for the same reason
(``Session._load``, as tests/crypto/v3/test_v3_vectors.py does: no identity key is
expanded on either side).
Python runs before and after the two web runs; its median over both is the anchor.
"""

from __future__ import annotations

import functools
import gc
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.harness import load_average
from medcrypt.crypto.endpoint.v3.session import Session
from tests.support.v3pairs import CounterRng, make_v3_pair

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
CHROMIUM = Path("/usr/bin/chromium")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
BODY = ("Resultados de laboratorio: hemoglobina 13.2 g/dL. " * 90)[:4096].encode()


def fixture() -> dict[str, Any]:
    """A physician's state before a 4 KiB patient message, and that message."""
    pair = make_v3_pair(682, rng=CounterRng("MEDCRYPT web decrypt bench"))
    token = pair.patient.encrypt(BODY, now=NOW, rng=CounterRng("MEDCRYPT web bench send"))
    state = pair.physician.export_state()
    return {"state": state, "token": token, "now": NOW.isoformat(), "body_sha256": ""}


def python_rounds(fx: dict[str, Any], rounds: int, number: int) -> list[float]:
    """Per-operation microseconds of each round (GC off while timing)."""
    state, token = fx["state"], fx["token"]

    def once() -> None:
        session = Session.__new__(Session)
        session._load(state)  # builds fresh objects; the document itself is not changed
        session.decrypt(token, now=NOW)
        session.export_state()

    for _ in range(50):
        once()
    samples = []
    for _ in range(rounds):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            for _ in range(number):
                once()
            samples.append((time.perf_counter() - start) / number * 1e6)
        finally:
            gc.enable()
    return samples


def _bundle(out: Path) -> None:
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is needed for the web benchmark")
    if not (WEB / "node_modules" / "libsodium-wrappers-sumo").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    subprocess.run([node, "bench/bundle.mjs", str(out)], cwd=WEB, check=True,
                   capture_output=True)


def node_result(out: Path, fixture_path: Path) -> dict[str, Any]:
    done = subprocess.run([shutil.which("node") or "node", str(out / "bench-node.mjs"),
                           str(fixture_path)], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def browser_result(out: Path, fx: dict[str, Any]) -> dict[str, Any] | None:
    if not CHROMIUM.exists():
        return None
    from playwright.sync_api import sync_playwright

    page_html = ("<!doctype html><meta charset='utf-8'><title>bench</title>"
                 "<script type='application/json' id='fixture'>"
                 + json.dumps(fx).replace("<", "\\u003c")
                 + "</script><script type='module' src='bench-browser.js'></script>")
    (out / "index.html").write_text(page_html, encoding="utf-8")
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(out)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            try:
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
                page.wait_for_function("() => window.__bench !== undefined", timeout=600_000)
                result: dict[str, Any] = page.evaluate("() => window.__bench")
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
    if "error" in result:
        raise SystemExit(f"browser benchmark failed: {result['error']}")
    return result


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    rounds, number = (5, 50) if quick else (9, 200)
    fx = fixture()
    print(f"\n## web decrypt: 4 KiB v3 token ({len(fx['token'])} characters)")
    print(f"load at start: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="medcrypt-web-bench-") as tmp:
        out = Path(tmp)
        _bundle(out)
        fixture_path = out / "fixture.json"
        fixture_path.write_text(json.dumps(fx), encoding="utf-8")
        before = python_rounds(fx, rounds, number)
        node = node_result(out, fixture_path)
        browser = browser_result(out, fx)
        after = python_rounds(fx, rounds, number)
    python_us = statistics.median(before + after)
    print(f"load at end:   {load_average()}")
    print(f"{'case':<40} {'median/op':>12} {'ratio to Python':>16}")
    print(f"{'Python Session.decrypt (anchor)':<40} {python_us:>10.1f}us {1.0:>15.2f}x")
    print(f"{'web decrypt, Node (libsodium WASM)':<40} "
          f"{node['median_us']:>10.1f}us {node['median_us'] / python_us:>15.2f}x")
    if browser is None:
        print("headless Chromium: not installed (scripts/chromium.sh); skipped")
    else:
        ratio = browser["median_us"] / python_us
        print(f"{'web decrypt, headless Chromium':<40} {browser['median_us']:>10.1f}us "
              f"{ratio:>15.2f}x  (goal <= 2x: {'met' if ratio <= 2 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
