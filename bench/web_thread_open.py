"""Cold open of the real web app to an unlocked thread, for bench_web_unlock.

The path a patient waits through when they open the app to read: a fresh browser
context (a new Chromium process on the patient's profile: nothing in memory, the
keystore in IndexedDB, the bundle in the service worker's cache), the page load, the
passphrase typed into the unlock screen, Argon2id at the CLI's profile and the seal
opened, then the thread opened until its messages are on screen.

Prepared once: the app built and served by ``medcrypt ui``'s server (one port and secret
for the run, so one origin and one keystore), two persistent profiles set up and paired
through the screens, and ``messages`` messages each way exchanged by paste. Not a
bench_ module: bench_web_unlock calls it inside its own Playwright session (one sync
Playwright per process).
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support import web
from tests.support.web import READY
from tests.support.web_flows import (
    SLOW_MS,
    open_thread,
    pair_web,
    ready_and_set_up,
    receive,
    seal,
    unlock,
)

THREAD = "Dr Rivera"  # the name pair_web gives the patient's side


@dataclass(frozen=True)
class Round:
    load_ms: float  # navigation to the app started (data-ready)
    unlock_ms: float  # from there: unlock screen, passphrase typed, Argon2id, seal opened
    thread_ms: float  # from there: the thread opened (calendar run) and its messages drawn
    total_ms: float  # navigation to the thread's messages on screen


def _launch(pw: Any, chromium: str, profile: Path) -> Any:
    return pw.chromium.launch_persistent_context(
        str(profile), executable_path=chromium, headless=True, locale="en-US",
        viewport={"width": 390, "height": 844},
        args=["--no-first-run", "--no-default-browser-check"])


def _first_page(ctx: Any) -> Any:
    return ctx.pages[0] if ctx.pages else ctx.new_page()


@contextlib.contextmanager
def prepared(pw: Any, chromium: str, messages: int) -> Iterator[tuple[Any, Path, int, str]]:
    """(server, patient profile, messages on the patient's thread, the patient's
    passphrase as the setup screen showed it)."""
    with tempfile.TemporaryDirectory() as tmp:
        build = web.build_web(Path(tmp) / "dist")
        with web.serve(build.outdir) as server:
            doc_ctx = _launch(pw, chromium, Path(tmp) / "physician")
            pat_ctx = _launch(pw, chromium, Path(tmp) / "patient")
            try:
                physician, patient = _first_page(doc_ctx), _first_page(pat_ctx)
                ready_and_set_up(physician, server)
                passphrase = ready_and_set_up(patient, server)
                pair_web(physician, patient)
                open_thread(patient, THREAD)
                open_thread(physician, "Sam — knee")
                for i in range(messages):
                    question = f"Question {i}: the knee is still sore in the morning."
                    for part in seal(patient, question):
                        receive(physician, part)
                    for part in seal(physician, f"Answer {i}: keep icing it and rest two days."):
                        receive(patient, part)
            finally:
                doc_ctx.close()
                pat_ctx.close()
            yield server, Path(tmp) / "patient", 2 * messages, passphrase


def cold_open(pw: Any, chromium: str, server: Any, profile: Path, shown: int,
              passphrase: str) -> Round:
    """One round: a fresh context on the profile, timed from navigation to the thread."""
    ctx = _launch(pw, chromium, profile)
    try:
        page = _first_page(ctx)
        start = time.perf_counter()
        page.goto(server.app_url)
        page.wait_for_selector(READY)
        loaded = time.perf_counter()
        unlock(page, passphrase)
        page.wait_for_selector("[data-pair-step=choose]", timeout=SLOW_MS)
        unlocked = time.perf_counter()
        open_thread(page, THREAD)
        page.wait_for_function(f"() => document.querySelectorAll('li.msg').length === {shown}",
                               timeout=SLOW_MS)
        end = time.perf_counter()
        return Round(load_ms=(loaded - start) * 1000, unlock_ms=(unlocked - loaded) * 1000,
                     thread_ms=(end - unlocked) * 1000, total_ms=(end - start) * 1000)
    finally:
        ctx.close()
