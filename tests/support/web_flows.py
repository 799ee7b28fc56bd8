"""Driving the web companion's flow screens (tests/web/flows/) as a person would: by the
labels and buttons on screen, reading results from the elements the screens mark with
``data-*`` attributes (the stable error code, the step, the code shown).

Argon2id runs at the CLI's real cost (3 passes over 128 MiB) in every setup and unlock:
on a loaded two-core machine that is seconds, hence the generous waits.
"""

from __future__ import annotations

from typing import Any

from tests.support.web import READY, RecordingServer, open_app

#: Rated "good" by zxcvbn (score >= 2, the CLI's floor); used by every flow test.
PASS = "quartz lantern orbit fennel"
#: Rated below the floor by the CLI's estimator.
WEAK = "password123"
SLOW_MS = 120_000


def show(page: Any, screen: str) -> None:
    page.click(f"nav button[data-screen={screen}]")
    page.wait_for_selector(f"nav button[data-screen={screen}][aria-current=page]")


def access_state(page: Any) -> str:
    """What the setup/unlock screen shows once it has asked the keystore."""
    page.wait_for_selector("[data-access]:not([data-access=loading])")
    return str(page.get_attribute("[data-access]", "data-access"))


def set_up(page: Any, server: RecordingServer, passphrase: str = PASS) -> str:
    """Open the app, set up a new keystore; returns the purge risk the screen warned of."""
    open_app(page, server)
    show(page, "unlock")
    assert access_state(page) == "setup"
    page.fill("form[data-form=setup] input[name=passphrase]", passphrase)
    page.fill("form[data-form=setup] input[name=confirm]", passphrase)
    page.click("form[data-form=setup] button[type=submit]")
    page.wait_for_selector("[data-access=export]", timeout=SLOW_MS)
    return str(page.get_attribute("[data-purge]", "data-purge"))


def unlock(page: Any, passphrase: str = PASS) -> None:
    show(page, "unlock")
    assert access_state(page) == "unlock"
    page.fill("form[data-form=unlock] input[name=passphrase]", passphrase)
    page.click("form[data-form=unlock] button[type=submit]")


def error_code(page: Any, scope: str = "main") -> str:
    el = page.wait_for_selector(f"{scope} [role=alert][data-error]", timeout=SLOW_MS)
    return str(el.get_attribute("data-error"))


def ready_and_set_up(page: Any, server: RecordingServer) -> None:
    """A fresh app with a keystore, past the export prompt, on the pairing screen."""
    set_up(page, server)
    page.click("[data-action=export-later]")
    page.wait_for_selector("[data-pair-step=choose]")
    page.wait_for_selector(READY)
