"""Decrypt of a 4 KiB v3 token: the web companion (Node and headless Chromium) against
the Python companion's ``Session.decrypt``, in the same run (issue 14).

``python -m bench.bench_web_decrypt [--quick]`` or ``python -m bench.run web_decrypt``.
Goal: the browser at most 2x the Python companion. Nothing is asserted.

The same work on each side, per operation: load the physician's ``medcrypt-session/3``
document, open a 4096-byte TEXT message (plan, AEAD, Ed25519 verification of the
envelope) and export the new document. The TypeScript ``decrypt`` is pure, so it reopens
one (state, token) pair; Python loads the document each time for the same reason
(``Session._load``, as tests/crypto/v3/test_v3_vectors.py does: no identity key is
expanded on either side). Each web decrypt is awaited before the next; the peer's
WebCrypto verifier is made by the first and reused, as the app reuses it for a thread
(ADR 0044; ``python -m bench.web_decrypt_profile`` prints what making it costs).
All three are warmed up first (WASM tiers up over about a
second), then measured in interleaved rounds - Python, Node, Chromium, again - so each
round of the three sees the same load on a shared machine.
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
    return {"state": state, "token": token, "now": NOW.isoformat()}


def python_round(fx: dict[str, Any], number: int) -> float:
    """Per-operation microseconds of one round of ``number`` decrypts (GC off)."""
    state, token = fx["state"], fx["token"]
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(number):
            session = Session.__new__(Session)
            session._load(state)  # builds fresh objects; the document itself is not changed
            session.decrypt(token, now=NOW)
            session.export_state()
        return (time.perf_counter() - start) / number * 1e6
    finally:
        gc.enable()


def _bundle(out: Path) -> None:
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is needed for the web benchmark")
    if not (WEB / "node_modules" / "libsodium-wrappers-sumo").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    subprocess.run([node, "bench/bundle.mjs", str(out)], cwd=WEB, check=True,
                   capture_output=True)


class NodeSide:
    """The warmed-up Node process; one round per request."""

    def __init__(self, out: Path, fixture_path: Path) -> None:
        self.proc = subprocess.Popen([shutil.which("node") or "node", str(out / "bench-node.mjs"),
                                      str(fixture_path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise SystemExit("the Node benchmark did not start")

    def round(self, number: int) -> float:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{number}\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    rounds, number = (5, 100) if quick else (11, 300)
    fx = fixture()
    print(f"\n## web decrypt: 4 KiB v3 message ({len(fx['token'])}-character token)")
    print(f"load at start: {load_average()}")
    samples: dict[str, list[float]] = {"python": [], "node": [], "chromium": []}
    with tempfile.TemporaryDirectory(prefix="medcrypt-web-bench-") as tmp:
        out = Path(tmp)
        _bundle(out)
        fixture_path = out / "fixture.json"
        fixture_path.write_text(json.dumps(fx), encoding="utf-8")
        (out / "index.html").write_text(
            "<!doctype html><meta charset='utf-8'><title>bench</title>"
            "<script type='application/json' id='fixture'>"
            + json.dumps(fx).replace("<", "\\u003c")
            + "</script><script type='module' src='bench-browser.js'></script>",
            encoding="utf-8")
        server = ThreadingHTTPServer(("127.0.0.1", 0),
                                     functools.partial(_Quiet, directory=str(out)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        node = NodeSide(out, fixture_path)
        for _ in range(3):  # Python warms up too
            python_round(fx, number)
        try:
            if CHROMIUM.exists():
                from playwright.sync_api import sync_playwright

                with sync_playwright() as pw:
                    browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
                    try:
                        page = browser.new_page()
                        page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
                        page.wait_for_function(
                            "() => window.__benchRound !== undefined"
                            " || window.__benchError !== undefined", timeout=600_000)
                        error = page.evaluate("() => window.__benchError")
                        if error:
                            raise SystemExit(f"browser benchmark failed: {error}")
                        for _ in range(rounds):  # interleaved: each round sees the same load
                            samples["python"].append(python_round(fx, number))
                            samples["node"].append(node.round(number))
                            samples["chromium"].append(
                                float(page.evaluate(f"() => window.__benchRound({number})")))
                    finally:
                        browser.close()
            else:
                for _ in range(rounds):
                    samples["python"].append(python_round(fx, number))
                    samples["node"].append(node.round(number))
        finally:
            node.close()
            server.shutdown()
            server.server_close()
    print(f"load at end:   {load_average()}")
    anchor = statistics.median(samples["python"])
    print(f"{rounds} interleaved rounds of {number} decrypts each; medians per operation")
    print(f"{'case':<40} {'median/op':>12} {'ratio to Python':>16}")
    print(f"{'Python Session.decrypt (anchor)':<40} {anchor:>10.1f}us {1.0:>15.2f}x")
    node_us = statistics.median(samples["node"])
    print(f"{'web decrypt, Node':<40} {node_us:>10.1f}us "
          f"{node_us / anchor:>15.2f}x")
    if not samples["chromium"]:
        print("headless Chromium: not installed (scripts/chromium.sh); skipped")
    else:
        chromium_us = statistics.median(samples["chromium"])
        ratio = chromium_us / anchor
        print(f"{'web decrypt, headless Chromium':<40} {chromium_us:>10.1f}us "
              f"{ratio:>15.2f}x  (goal <= 2x: {'met' if ratio <= 2 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
