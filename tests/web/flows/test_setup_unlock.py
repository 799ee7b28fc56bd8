"""Setup and unlock screens on the real keystore, in headless Chromium: the CLI's
passphrase rule, the purge warning and the export prompt at setup, a wrong passphrase
refused with its message, a second tab told the app is open elsewhere, and a reload and
a lock that need the passphrase again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support import web
from tests.support.web import READY, open_app
from tests.support.web_flows import (
    PASS,
    SLOW_MS,
    WEAK,
    access_state,
    error_code,
    set_up,
    show,
    unlock,
)


def test_setup_refuses_a_weak_passphrase_and_a_mismatch(page: Any,
                                                        web_server: web.RecordingServer) -> None:
    open_app(page, web_server)
    show(page, "unlock")
    assert access_state(page) == "setup"
    page.fill("input[name=passphrase]", WEAK)
    page.fill("input[name=confirm]", WEAK)
    page.click("form[data-form=setup] button[type=submit]")
    assert error_code(page) == "keystore_weak_passphrase"
    assert "too easy to guess" in page.inner_text("[role=alert]")
    page.fill("input[name=passphrase]", PASS)
    page.fill("input[name=confirm]", PASS + "x")
    page.click("form[data-form=setup] button[type=submit]")
    page.wait_for_selector("[role=alert][data-error=mismatch]")
    # Nothing was created by either attempt: a reload still offers setup.
    page.reload()
    page.wait_for_selector(READY)
    show(page, "unlock")
    assert access_state(page) == "setup"


def test_setup_warns_of_purge_and_exports_an_encrypted_copy(page: Any,
                                                           web_server: web.RecordingServer) -> None:
    risk = set_up(page, web_server)
    # Headless Chromium on Linux: Blink, so no 7-day rule; persist() decides the rest.
    assert risk in {"best-effort", "persistent"}
    banner = page.inner_text("[data-purge]")
    assert "encrypted copy" in banner
    with page.expect_download(timeout=SLOW_MS) as info:
        page.click("[data-action=export]")
    download = info.value
    assert download.suggested_filename.startswith("medcrypt-web-export-")
    data = Path(download.path()).read_bytes()
    assert data[:4] == b"MCKX"
    assert PASS.encode() not in data
    page.wait_for_selector("[data-message='export.saved']", timeout=SLOW_MS)


def test_wrong_passphrase_is_refused_and_the_right_one_unlocks_after_reload(
        page: Any, web_server: web.RecordingServer) -> None:
    set_up(page, web_server)
    page.reload()
    page.wait_for_selector(READY)
    unlock(page, PASS + " nope")
    assert error_code(page) == "keystore_wrong_passphrase"
    assert page.inner_text("[role=alert]") == "Wrong passphrase. Try again."
    unlock_again = page.locator("form[data-form=unlock] input[name=passphrase]")
    unlock_again.fill(PASS)
    page.click("form[data-form=unlock] button[type=submit]")
    page.wait_for_selector("[data-pair-step=choose]", timeout=SLOW_MS)
    show(page, "unlock")
    assert access_state(page) == "unlocked"
    page.click("[data-action=lock]")
    assert access_state(page) == "unlock"
    show(page, "pair")
    page.wait_for_selector("[data-pair-step=locked]")


def test_a_second_tab_is_told_the_app_is_open_elsewhere(context: Any,
                                                       web_server: web.RecordingServer) -> None:
    first = context.new_page()
    set_up(first, web_server)
    second = context.new_page()
    open_app(second, web_server)
    unlock(second)
    assert error_code(second) == "keystore_open_in_another_tab"
    assert "open in another tab" in second.inner_text("[role=alert]")
    # Once the first tab closes, its lock is the browser's to free; then the second opens.
    first.close()
    second.locator("form[data-form=unlock] input[name=passphrase]").fill(PASS)
    second.click("form[data-form=unlock] button[type=submit]")
    second.wait_for_selector("[data-pair-step=choose]", timeout=SLOW_MS)


def test_the_wrong_passphrase_message_is_spanish_in_a_spanish_browser(
        browser: Any, web_server: web.RecordingServer) -> None:
    ctx = browser.new_context(locale="es-MX")
    try:
        page = ctx.new_page()
        set_up(page, web_server)
        assert "copia cifrada" in page.inner_text("[data-purge]")
        page.reload()
        page.wait_for_selector(READY)
        unlock(page, "not the passphrase at all")
        assert error_code(page) == "keystore_wrong_passphrase"
        spanish = "Frase de contraseña incorrecta. Intente de nuevo."
        assert page.inner_text("[role=alert]") == spanish
    finally:
        ctx.close()
