"""The flow screens as people see them: the pairing screen (patient, with the code), the
verification screen and a thread, at 390x844 and 1280x800, in English and Spanish;
screenshots kept in test-artifacts/web/, nothing wider than the window, and no serious or
critical axe-core violation on any of them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import web
from tests.support.web import overflowing, screenshot
from tests.support.web_flows import (
    accept,
    make_offer,
    open_thread,
    ready_and_set_up,
    receive,
    seal,
    show,
    token,
)


def axe_bad(page: Any) -> list[str]:
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(web.AXE.read_text())
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in {"serious", "critical"}]


def _send_line(count: int, spanish: bool) -> str:
    """The hand-off line in its plural form (no "pieza(s)")."""
    if spanish:
        return ("Envíe esta 1 pieza al chat." if count == 1
                else f"Envíe estas {count} piezas al chat, en cualquier orden.")
    return ("Send this 1 piece to the chat." if count == 1
            else f"Send these {count} pieces to the chat, in any order.")


def _check_file_picker(page: Any, spanish: bool) -> None:
    """The attach control speaks the app's language, not the browser's ("Choose File",
    "No file chosen"): its label is the visible button, a line says no file is chosen,
    the input keeps the label as its accessible name and shows keyboard focus."""
    picker = page.locator("input[name=attach]")
    input_id = picker.get_attribute("id")
    label = page.locator(f"label[for='{input_id}']")
    assert label.text_content() == ("Adjuntar una foto o un PDF" if spanish
                                    else "Attach a photo or PDF")
    assert label.is_visible()
    assert page.text_content(f"#{input_id}-chosen") == (
        "Ningún archivo seleccionado" if spanish else "No file chosen")
    assert page.get_by_label(label.text_content() or "").get_attribute("name") == "attach"
    box = picker.bounding_box()
    # the native control (in the browser's language) is not drawn
    assert box is not None and box["width"] <= 1 and box["height"] <= 1
    page.focus("[data-action=seal]")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "attach"
    assert label.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"


def check(page: Any, name: str, found: dict[str, list[str]]) -> None:
    for key, problems in (("overflow", overflowing(page)), ("axe", axe_bad(page))):
        if problems:
            found[f"{name} {key}"] = problems
    screenshot(page, name)


@pytest.mark.parametrize(("width", "height", "locale"),
                         [(390, 844, "en-US"), (1280, 800, "en-US"), (390, 844, "es-MX")])
def test_pairing_verification_and_thread_screens(browser: Any, web_server: web.RecordingServer,
                                                 width: int, height: int, locale: str) -> None:
    if not web.AXE.is_file():
        web.unavailable("web/node_modules/axe-core is missing (scripts/web.sh installs it)")
    contexts = [browser.new_context(viewport={"width": width, "height": height}, locale=locale)
                for _ in range(2)]
    found: dict[str, list[str]] = {}
    tag = f"{width}x{height}-{locale}"
    try:
        physician, patient = (ctx.new_page() for ctx in contexts)
        for page in (physician, patient):
            ready_and_set_up(page, web_server)
        offer = make_offer(physician)
        check(physician, f"flows-pair-physician-offer-{tag}", found)
        accept_token, _ = accept(patient, offer)
        check(patient, f"flows-pair-patient-{tag}", found)
        physician.fill("textarea[name=accept]", accept_token)
        physician.click("[data-action=check-accept]")
        physician.wait_for_selector("[data-pair-step=physician-code]")
        physician.click("[data-action=confirm]")
        physician.wait_for_selector("[data-pair-step=verify]")
        patient.fill("textarea[name=confirm]", token(physician, "confirm"))
        patient.click("[data-action=finish]")
        patient.wait_for_selector("[data-pair-step=verify]")
        check(patient, f"flows-verify-{tag}", found)
        open_thread(patient, "Dr Rivera")
        parts = seal(patient, "My knee still hurts after the run. Should I rest it?")
        spanish = locale == "es-MX"
        assert patient.text_content("[data-outgoing] > p") == _send_line(len(parts), spanish)
        _check_file_picker(patient, spanish)
        open_thread(physician, "Sam — knee")
        for part in parts:
            receive(physician, part)
        reply = seal(physician, "Yes: rest for two days, ice twice a day, then walk.")
        receive(patient, reply[0])
        show(patient, "home")
        show(patient, "threads")
        patient.wait_for_selector("[data-thread-open]")
        check(patient, f"flows-thread-{tag}", found)
    finally:
        for ctx in contexts:
            ctx.close()
    assert found == {}
