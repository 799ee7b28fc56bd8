"""Cold open of the real web app to an unlocked thread, for bench_web_unlock.

The path a patient waits through when they open the app to read: a fresh browser
context (a new Chromium process on the patient's profile: nothing in memory, the
keystore in IndexedDB, the bundle in the service worker's cache), the page load, the
passphrase typed into the unlock screen, Argon2id at the CLI's profile and the seal
opened, then the thread opened until its messages are on screen.

Timed by the page's own clock (PROBE): navigation start is the page's time origin, and each
milestone is stamped once the frame showing it has been produced. The driver (Playwright:
clicks, and a fill for the passphrase) acts as soon as a stamp arrives, and the time from a
screen being shown to the driver's next input is reported apart (``driver_ms``): it is
inside the total, as a person's clicks would be, but it is the driver's, not the app's.

Prepared once: the app built and served by ``medcrypt ui``'s server (one port and secret
for the run, so one origin and one keystore), two persistent profiles set up and paired
through the screens, and ``messages`` messages each way exchanged by paste. Not a
bench_ module: bench_web_unlock calls it inside its own Playwright session (one sync
Playwright per process).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
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
)

THREAD = "Dr Rivera"  # the name pair_web gives the patient's side


# What the bench watches for, in order: (milestone, CSS selector, how many must match).
# "drawn" needs every message of the thread; its count is filled in per run.
STEPS = (("ready", READY, 1),
         ("form", "form[data-form=unlock] input[name=passphrase]", 1),
         ("unlocked", "[data-pair-step=choose]", 1),
         ("list", "button[data-thread]", 1),
         ("drawn", "li.msg", 0))

# Installed in every document of the bench's browser before the app's own scripts run
# (Playwright's init script; observation only, it changes nothing on the page). It stamps
# each milestone with the page's own clock, in ms since navigation start, once the frame
# that shows it has been produced (the first task after the next animation frame), and
# the time of every trusted click and submit (the driver's inputs). The driver waits on
# those stamps (`arrived`), not on Playwright's selector polling: `wait_for_selector`
# re-checks at 0, 20, 50, 100, 100 ms and then every 500 ms, so a step longer than
# ~270 ms was seen up to half a second late, and that lag was in the old figures.
PROBE = r"""
((steps) => {
  const marks = {}, inputs = [], pending = new Set(), waiters = [];
  const stamp = (name) => {
    marks[name] = performance.now();
    for (const w of waiters.filter((w) => w.name === name)) w.resolve(marks[name]);
  };
  const check = () => {
    for (const [name, selector, count] of steps) {
      if (name in marks || pending.has(name)) continue;
      if (document.querySelectorAll(selector).length >= count) {
        pending.add(name);
        requestAnimationFrame(() => setTimeout(() => stamp(name), 0));
      }
    }
  };
  const arrived = (name, ms) => name in marks ? Promise.resolve(marks[name])
    : new Promise((resolve, reject) => {
        waiters.push({name, resolve});
        setTimeout(() => reject(new Error("cold open: no " + name + " within " + ms + " ms")), ms);
      });
  Object.defineProperty(window, "__coldOpen", {value: Object.freeze({marks, inputs, arrived})});
  new MutationObserver(check).observe(document, {subtree: true, childList: true, attributes: true});
  for (const type of ["click", "submit"]) {
    addEventListener(type, (e) => { if (e.isTrusted) inputs.push(performance.now()); }, true);
  }
})(%s);
"""


@dataclass(frozen=True)
class Round:
    """One cold open; load + unlock + thread + driver = total."""

    load_ms: float  # navigation start to the app started (data-ready) on screen
    unlock_ms: float  # the app's: unlock screen drawn; Argon2id, seal opened, next screen drawn
    thread_ms: float  # the app's: thread list drawn; thread opened (calendar), messages drawn
    total_ms: float  # navigation start to the thread's messages on screen
    driver_ms: float  # the driver's: from each screen shown to its next input (click, typing)


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


def _arrived(page: Any, name: str) -> float:
    """Wait (event-driven, in the page) until milestone ``name`` is on screen."""
    return float(page.evaluate("([n, ms]) => window.__coldOpen.arrived(n, ms)", [name, SLOW_MS]))


def cold_open(pw: Any, chromium: str, server: Any, profile: Path, shown: int,
              passphrase: str) -> Round:
    """One round: a fresh context on the profile, timed in the page from navigation start
    to the thread's messages on screen; the passphrase goes through the real unlock screen
    (filled, then the submit button clicked), the screens are reached by clicks."""
    ctx = _launch(pw, chromium, profile)
    steps = [[name, selector, count or shown] for name, selector, count in STEPS]
    ctx.add_init_script(PROBE % json.dumps(steps))
    try:
        page = _first_page(ctx)
        page.goto(server.app_url, wait_until="commit")
        _arrived(page, "ready")
        page.click("nav button[data-screen=unlock]")
        _arrived(page, "form")
        page.fill("form[data-form=unlock] input[name=passphrase]", passphrase)
        page.click("form[data-form=unlock] button[type=submit]")
        _arrived(page, "unlocked")
        page.click("nav button[data-screen=threads]")
        _arrived(page, "list")
        page.click(f"button[data-thread]:has-text('{THREAD}')")
        _arrived(page, "drawn")
        probe = page.evaluate("({marks: __coldOpen.marks, inputs: __coldOpen.inputs})")
    finally:
        ctx.close()
    marks, inputs = probe["marks"], sorted(probe["inputs"])

    def acted(name: str) -> float:
        """When the driver's first input after milestone ``name`` arrived."""
        return float(min((t for t in inputs if t >= marks[name]), default=marks[name]))

    # Each part is the app's own time; the gaps between a screen shown and the driver's
    # next input (clicks, and the fill before the unlock click, which a person types)
    # are the driver's. The parts and the driver's share add up to the total.
    driver = sum(acted(name) - marks[name] for name in ("ready", "form", "unlocked", "list"))
    return Round(load_ms=marks["ready"],
                 unlock_ms=(marks["form"] - acted("ready")) + (marks["unlocked"] - acted("form")),
                 thread_ms=(marks["list"] - acted("unlocked")) + (marks["drawn"] - acted("list")),
                 total_ms=marks["drawn"], driver_ms=driver)
