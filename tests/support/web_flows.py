"""Driving the web companion's flow screens (tests/web/flows/) as a person would: by the
labels and buttons on screen, reading results from the elements the screens mark with
``data-*`` attributes (the stable error code, the step, the code shown).

Argon2id runs at the CLI's real cost (3 passes over 128 MiB) in every setup and unlock:
on a loaded two-core machine that is seconds, hence the generous waits.

The app draws the keystore passphrase itself (ADR 0042): setup reads the words off the
screen and types them back, as a person copies them to paper and back. What was read is
kept per browser context in ``PAPER`` (the test's sheet of paper), so a later ``unlock``
types the same words.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from typing import Any

from tests.support.web import READY, RecordingServer, open_app

SLOW_MS = 120_000
#: The words each browser context was shown at setup, as its user wrote them down.
PAPER: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
#: The drawn words on the setup screen, one ``li`` each, in order.
WORDS = "[data-setup=words] ol[data-passphrase] li[data-word]"
#: The confirmation field the words are typed back into.
TYPED_BACK = "form[data-form=setup] input[name=passphrase]"


#: What a flow test wants to see when a wait runs out: where the page is, what it shows.
_STATE_JS = """() => ({
  url: location.href,
  ready: document.documentElement.dataset.ready ?? null,
  screen: document.querySelector('nav [aria-current=page]')?.dataset.screen ?? null,
  step: document.querySelector('[data-thread-step]')?.dataset.threadStep ?? null,
  handled: document.querySelector('[data-thread-open]')?.dataset.handled ?? null,
  alerts: [...document.querySelectorAll('[role=alert]')].map(a => a.textContent.trim())
           .filter(Boolean),
  notices: [...document.querySelectorAll('[role=status]')].map(a => a.textContent.trim())
           .filter(Boolean),
})"""


def wait_until(page: Any, predicate: str, *, timeout: float = SLOW_MS) -> None:
    """``page.wait_for_function``, but a timeout says what the page showed instead: a
    bare "Timeout 120000ms exceeded" from a loaded CI machine cannot tell a lost event
    from a slow one."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(predicate, timeout=timeout)
    except PlaywrightTimeout:
        state = page.evaluate(_STATE_JS)
        raise AssertionError(f"waited {timeout / 1000:.0f} s for {predicate!r}; the page "
                             f"showed {state!r}") from None


def show(page: Any, screen: str) -> None:
    page.click(f"nav button[data-screen={screen}]")
    page.wait_for_selector(f"nav button[data-screen={screen}][aria-current=page]")


def access_state(page: Any) -> str:
    """What the setup/unlock screen shows once it has asked the keystore."""
    page.wait_for_selector("[data-access]:not([data-access=loading])")
    return str(page.get_attribute("[data-access]", "data-access"))


def read_words(page: Any) -> list[str]:
    """The passphrase's words as the setup screen shows them."""
    page.wait_for_selector(WORDS)
    return [str(w).strip() for w in page.locator(WORDS).all_inner_texts()]


def type_back(page: Any, typed: str) -> None:
    """'I wrote them down', then type ``typed`` into the confirmation and submit."""
    page.click("[data-action=words-written]")
    page.fill(TYPED_BACK, typed)
    page.click("form[data-form=setup] button[type=submit]")


def set_up(page: Any, server: RecordingServer) -> str:
    """Open the app, set up a new keystore with the words it shows (kept in ``PAPER``);
    returns the purge risk the screen warned of."""
    open_app(page, server)
    show(page, "unlock")
    assert access_state(page) == "setup"
    words = " ".join(read_words(page))
    type_back(page, words)
    page.wait_for_selector("[data-access=export]", timeout=SLOW_MS)
    PAPER[page.context] = words
    return str(page.get_attribute("[data-purge]", "data-purge"))


async def set_up_async(page: Any) -> str:
    """``set_up``'s reading and typing back on an async Playwright page already showing
    the setup screen; waits for the export prompt and returns the words."""
    await page.wait_for_selector(WORDS)
    words = " ".join(w.strip() for w in await page.locator(WORDS).all_inner_texts())
    await page.click("[data-action=words-written]")
    await page.fill(TYPED_BACK, words)
    await page.click("form[data-form=setup] button[type=submit]")
    await page.wait_for_selector("[data-access=export]", timeout=SLOW_MS)
    return words


def written_down(page: Any) -> str:
    """The words this page's browser context was shown at setup."""
    return PAPER[page.context]


def unlock(page: Any, passphrase: str | None = None) -> None:
    """Type ``passphrase`` (by default the words written down at setup) and unlock."""
    passphrase = written_down(page) if passphrase is None else passphrase
    show(page, "unlock")
    assert access_state(page) == "unlock"
    page.fill("form[data-form=unlock] input[name=passphrase]", passphrase)
    page.click("form[data-form=unlock] button[type=submit]")


def error_code(page: Any, scope: str = "main") -> str:
    el = page.wait_for_selector(f"{scope} [role=alert][data-error]", timeout=SLOW_MS)
    return str(el.get_attribute("data-error"))


def ready_and_set_up(page: Any, server: RecordingServer) -> str:
    """A fresh app with a keystore, past the export prompt, on the pairing screen;
    returns the passphrase the screen showed."""
    set_up(page, server)
    page.click("[data-action=export-later]")
    page.wait_for_selector("[data-pair-step=choose]")
    page.wait_for_selector(READY)
    return written_down(page)


def token(page: Any, name: str) -> str:
    return str(page.input_value(f"textarea[data-token={name}]"))


def make_offer(physician: Any, name: str = "Sam — knee") -> str:
    physician.click("[data-role=physician]")
    physician.fill("input[name=name]", name)
    physician.click("[data-action=make-offer]")
    physician.wait_for_selector("textarea[data-token=offer]")
    return token(physician, "offer")


def accept(patient: Any, offer: str, name: str = "Dr Rivera") -> tuple[str, str]:
    patient.click("[data-role=patient]")
    patient.fill("input[name=name]", name)
    patient.fill("textarea[name=offer]", offer)
    patient.click("[data-action=use-offer]")
    patient.wait_for_selector("textarea[data-token=accept]")
    return token(patient, "accept"), str(patient.get_attribute("[data-code]", "data-code"))


def pair_web(physician: Any, patient: Any) -> None:
    """Pair two set-up browsers (tokens carried by hand, as the chat would); both end
    verified."""
    offer = make_offer(physician)
    accept_token, _ = accept(patient, offer)
    physician.fill("textarea[name=accept]", accept_token)
    physician.click("[data-action=check-accept]")
    physician.wait_for_selector("[data-pair-step=physician-code]")
    physician.click("[data-action=confirm]")
    physician.wait_for_selector("[data-pair-step=verify]")
    patient.fill("textarea[name=confirm]", token(physician, "confirm"))
    patient.click("[data-action=finish]")
    patient.wait_for_selector("[data-pair-step=verify]")
    patient.click("[data-action=mark-verified]")
    patient.wait_for_selector("[data-verified=true]")


def open_thread(page: Any, name: str) -> None:
    show(page, "threads")
    page.click(f"button[data-thread]:has-text('{name}')")
    page.wait_for_selector("[data-thread-open]")


def seal(page: Any, text: str, platform: str = "whatsapp") -> list[str]:
    """Compose and lock ``text``; returns the pieces the screen hands off."""
    page.select_option("select[name=platform]", platform)
    page.fill("textarea[name=compose]", text)
    page.click("[data-action=seal]")
    page.wait_for_selector("[data-outgoing]")
    count = int(page.get_attribute("[data-outgoing]", "data-outgoing"))
    return [token(page, f"out-{i}") for i in range(count)]


def receive(page: Any, text: str) -> None:
    """Paste ``text`` into the open thread and wait until the screen has handled it."""
    before = int(page.get_attribute("[data-thread-open]", "data-handled"))
    page.fill("textarea[name=incoming]", text)
    page.click("[data-action=open]")
    page.wait_for_selector(f"[data-thread-open][data-handled='{before + 1}']", timeout=SLOW_MS)


@contextlib.contextmanager
def two_set_up(browser: Any, server: RecordingServer, *,
               downloads: bool = False) -> Iterator[tuple[Any, Any]]:
    """Two phone-sized browsers (own profiles), each with a keystore set up: a
    physician's and a patient's. Closed on exit."""
    contexts = [browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US",
                                    accept_downloads=downloads) for _ in range(2)]
    try:
        pages = [ctx.new_page() for ctx in contexts]
        for page in pages:
            ready_and_set_up(page, server)
        yield pages[0], pages[1]
    finally:
        for ctx in contexts:
            ctx.close()
