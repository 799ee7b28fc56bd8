"""Setup and unlock screens on the real keystore, in headless Chromium: the passphrase the
app draws (ADR 0042) shown once and typed back before anything is made, the purge warning
and the export prompt at setup, a wrong passphrase refused with its message, the right
one accepted in any case and spacing, a second tab told the app is open elsewhere, and a
reload and a lock that need the passphrase again."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

from tests.support import web
from tests.support.web import READY, WEB, open_app
from tests.support.web_flows import (
    SLOW_MS,
    access_state,
    error_code,
    read_words,
    set_up,
    show,
    type_back,
    unlock,
    written_down,
)


def bip39_list(language: str) -> list[str]:
    """The word list the app draws from, read from the installed package's file."""
    text = (WEB / "node_modules" / "@scure" / "bip39" / "wordlists" / f"{language}.js").read_text()
    found = re.search(r"`([^`]*)`", text)
    assert found
    return found.group(1).split()


def shouted(words: str) -> str:
    """The words as someone might type them from paper: capitals, odd spacing, numbers."""
    return "  " + "\n".join(f"{i}. {w.upper()}" for i, w in enumerate(words.split(), 1)) + " "


def test_setup_shows_drawn_words_and_refuses_a_mismatch(page: Any,
                                                        web_server: web.RecordingServer) -> None:
    open_app(page, web_server)
    show(page, "unlock")
    assert access_state(page) == "setup"
    english = set(bip39_list("english"))
    first = read_words(page)
    assert len(first) == 5 and set(first) <= english, first
    assert page.get_attribute("ol[data-passphrase]", "lang") == "en"
    # "Other words" draws again (2^-55 that it repeats).
    page.click("[data-action=new-words]")
    page.wait_for_function("(old) => [...document.querySelectorAll('li[data-word]')]"
                           ".map((li) => li.textContent).join(' ') !== old", arg=" ".join(first))
    words = read_words(page)
    assert len(words) == 5 and set(words) <= english and words != first
    # One word off: refused on the spot, nothing made, the words can be shown again.
    wrong = " ".join([*words[:4], next(w for w in sorted(english) if w != words[4])])
    type_back(page, wrong)
    page.wait_for_selector("[role=alert][data-error=mismatch]")
    assert "not the words shown" in page.inner_text("[role=alert]")
    page.click("[data-action=show-words]")
    assert read_words(page) == words
    # The first words (replaced) are not accepted either.
    type_back(page, " ".join(first))
    page.wait_for_selector("[role=alert][data-error=mismatch]")
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
    for word in written_down(page).split():
        assert word.encode() not in data
    page.wait_for_selector("[data-message='export.saved']", timeout=SLOW_MS)


def test_wrong_passphrase_is_refused_and_the_right_one_unlocks_after_reload(
        page: Any, web_server: web.RecordingServer) -> None:
    set_up(page, web_server)
    page.reload()
    page.wait_for_selector(READY)
    unlock(page, written_down(page) + " nope")
    assert error_code(page) == "keystore_wrong_passphrase"
    assert page.inner_text("[role=alert]") == "Wrong passphrase. Try again."
    # The right words, typed in capitals, numbered, one per line: unambiguous, accepted.
    unlock_again = page.locator("form[data-form=unlock] input[name=passphrase]")
    unlock_again.fill(shouted(written_down(page)).replace("\n", "  "))
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
    second.locator("form[data-form=unlock] input[name=passphrase]").fill(written_down(second))
    second.click("form[data-form=unlock] button[type=submit]")
    second.wait_for_selector("[data-pair-step=choose]", timeout=SLOW_MS)


def test_a_spanish_browser_gets_spanish_words_typed_back_without_accents(
        browser: Any, web_server: web.RecordingServer) -> None:
    ctx = browser.new_context(locale="es-MX")
    try:
        page = ctx.new_page()
        open_app(page, web_server)
        show(page, "unlock")
        words = read_words(page)
        assert page.get_attribute("ol[data-passphrase]", "lang") == "es"
        listed = {unicodedata.normalize("NFC", w) for w in bip39_list("spanish")}
        assert len(words) == 5 and set(words) <= listed, words
        assert "Escriba estas 5 palabras" in page.inner_text("[data-step=words]")
        plain = "".join(c for c in unicodedata.normalize("NFD", " ".join(words))
                        if not unicodedata.combining(c))
        type_back(page, plain.upper())
        page.wait_for_selector("[data-access=export]", timeout=SLOW_MS)
        assert "copia cifrada" in page.inner_text("[data-purge]")
        page.reload()
        page.wait_for_selector(READY)
        unlock(page, "not the passphrase at all")
        assert error_code(page) == "keystore_wrong_passphrase"
        spanish = "Frase de contraseña incorrecta. Intente de nuevo."
        assert page.inner_text("[role=alert]") == spanish
        unlock(page, " ".join(words))  # with its accents, as shown
        page.wait_for_selector("[data-pair-step=choose]", timeout=SLOW_MS)
    finally:
        ctx.close()
