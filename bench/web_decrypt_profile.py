"""Where the 4 KiB v3 decrypt of bench_web_decrypt spends its time, step by step, in
Node and in headless Chromium, next to the Python companion's own steps (issue 14).

``python -m bench.web_decrypt_profile``: a table of per-call medians (microseconds) for
each step of the web decrypt (web/bench/profile.ts) and for the Python side
(``Session._load``, ``decrypt``, ``export_state``, the AEAD, the verification). Rows
overlap (the envelope open contains the verification): read them against the whole
decrypt, not as a sum. Not a ``bench_`` module: a diagnosis, not a goal; the goal's
figure is bench_web_decrypt's same-run ratio.
"""

from __future__ import annotations

import functools
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import nacl.bindings

from bench.bench_web_decrypt import CHROMIUM, NOW, _bundle, _Quiet, fixture
from bench.harness import load_average
from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint.v3.session import Session
from medcrypt.crypto.keyless.v3wire import parse_message_text


def _per_call(fn: Callable[[], object], rounds: int = 7, number: int = 200) -> float:
    for _ in range(number):
        fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(samples)


def python_steps(fx: dict[str, Any]) -> list[tuple[str, float]]:
    """The Python companion's side of the same work, step by step."""
    state, token = fx["state"], fx["token"]

    def whole() -> None:
        session = Session.__new__(Session)
        session._load(state)
        session.decrypt(token, now=NOW)
        session.export_state()

    def load() -> Session:
        session = Session.__new__(Session)
        session._load(state)
        return session

    loaded = load()
    msg = parse_message_text(token)
    # A detached signature over a message of the envelope's signed size (label, header,
    # hash): the verification's cost depends on the sizes, not on which bytes.
    seed = bytes(range(32))
    pk, sk = nacl.bindings.crypto_sign_seed_keypair(seed)
    signed = b"MEDCRYPT v3 envelope" + bytes(msg.header.raw) + bytes(32)
    signature = nacl.bindings.crypto_sign(signed, sk)[:64]
    key, nonce = bytes(32), bytes(24)
    sealed = prim.xchacha_encrypt(key, nonce, bytes(4096 + 78 + 178), bytes(95))
    return [
        ("decrypt, whole (load, decrypt, export)", _per_call(whole)),
        ("  Session._load", _per_call(load)),
        ("  export_state", _per_call(loaded.export_state)),
        ("  parse_message_text (base64, header)", _per_call(lambda: parse_message_text(token))),
        ("  XChaCha20-Poly1305 open, 4 KiB", _per_call(
            lambda: prim.xchacha_decrypt(key, nonce, sealed, bytes(95)))),
        ("    Ed25519 verify (PyNaCl)",
         _per_call(lambda: prim.ed25519_verify(pk, signed, signature))),
    ]


def web_steps(out: Path, port: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    node = subprocess.run([shutil.which("node") or "node", str(out / "profile-node.mjs"),
                           str(out / "fixture.json")], check=True, capture_output=True,
                          text=True, timeout=600)
    node_steps: list[dict[str, Any]] = json.loads(node.stdout)
    browser_steps: list[dict[str, Any]] = []
    if CHROMIUM.exists():
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            try:
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{port}/profile.html")
                page.wait_for_function("() => window.__profile !== undefined"
                                       " || window.__profileError !== undefined",
                                       timeout=600_000)
                error = page.evaluate("() => window.__profileError")
                if error:
                    raise SystemExit(f"browser profile failed: {error}")
                browser_steps = page.evaluate("() => window.__profile")
            finally:
                browser.close()
    return node_steps, browser_steps


def main(argv: list[str]) -> int:
    del argv
    fx = fixture()
    print(f"\n## web decrypt profile: 4 KiB v3 message ({len(fx['token'])}-character token)")
    print(f"load at start: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="medcrypt-web-profile-") as tmp:
        out = Path(tmp)
        _bundle(out)
        (out / "fixture.json").write_text(json.dumps(fx), encoding="utf-8")
        (out / "profile.html").write_text(
            "<!doctype html><meta charset='utf-8'><title>profile</title>"
            "<script type='application/json' id='fixture'>"
            + json.dumps(fx).replace("<", "\\u003c")
            + "</script><script type='module' src='profile-browser.js'></script>",
            encoding="utf-8")
        server = ThreadingHTTPServer(("127.0.0.1", 0),
                                     functools.partial(_Quiet, directory=str(out)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            node_steps, browser_steps = web_steps(out, server.server_address[1])
        finally:
            server.shutdown()
            server.server_close()
    py = python_steps(fx)
    print(f"load at end:   {load_average()}")
    print("per-call medians (us); rows overlap, read against the whole decrypt")
    print(f"{'web step':<58} {'Node':>9} {'Chromium':>9}")
    chromium = {s["step"]: s["us"] for s in browser_steps}
    for s in node_steps:
        c = chromium.get(s["step"])
        print(f"{s['step']:<58} {s['us']:>9.1f} {c if c is not None else float('nan'):>9.1f}")
    for step in chromium.keys() - {s["step"] for s in node_steps}:
        print(f"{step:<58} {'':>9} {chromium[step]:>9.1f}")
    print(f"\n{'Python step':<58} {'CPython':>9}")
    for name, us in py:
        print(f"{name:<58} {us:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
