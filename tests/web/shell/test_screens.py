"""The screens that exist, as people will see them: English and Spanish (chosen from the
browser, switchable, remembered), no serious or critical axe-core violation, and
screenshots at 390x844 (with the text at 200%) and 1280x800 kept in test-artifacts/web/,
with nothing wider than the window."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support import web
from tests.support.web import READY, open_app, visit_every_screen

SCREENS = ("home", "settings", "about")


def show(page: Any, screen: str) -> None:
    page.click(f"nav button[data-screen={screen}]")
    page.wait_for_selector(f"nav button[data-screen={screen}][aria-current=page]")


@pytest.mark.parametrize("locale", ["es-ES", "es-MX", "es", "es-419"])
def test_any_spanish_browser_gets_es_mx(browser: Any, web_server: web.RecordingServer,
                                        locale: str) -> None:
    ctx = browser.new_context(locale=locale)
    try:
        page = ctx.new_page()
        open_app(page, web_server)
        assert page.get_attribute("html", "lang") == "es-MX"
        assert page.inner_text("nav button[data-screen=home]") == "Inicio"
    finally:
        ctx.close()


def test_language_switches_and_is_remembered(page: Any, web_server: web.RecordingServer) -> None:
    open_app(page, web_server)
    assert page.get_attribute("html", "lang") == "en"
    show(page, "settings")
    page.click("input[value=es-MX]")
    page.wait_for_selector("html[lang=es-MX]")
    assert "Idioma de la aplicación" in page.inner_text("main")
    assert page.inner_text("#status") == "Idioma guardado."
    assert page.title().startswith("Idioma")
    page.reload()
    page.wait_for_selector(READY)
    assert page.get_attribute("html", "lang") == "es-MX"
    show(page, "settings")
    page.click("input[value=en]")
    page.wait_for_selector("html[lang=en]")
    assert "Language of the app" in page.inner_text("main")


def test_axe_finds_no_serious_or_critical_violation(page: Any,
                                                    web_server: web.RecordingServer) -> None:
    if not web.AXE.is_file():
        web.unavailable("web/node_modules/axe-core is missing (scripts/web.sh installs it)")
    open_app(page, web_server)
    # Evaluated through the DevTools protocol, which the page's CSP does not govern;
    # a <script> tag would be refused (and should be).
    page.evaluate(web.AXE.read_text())
    found: dict[str, list[str]] = {}
    for lang in ("en", "es-MX"):
        show(page, "settings")
        page.click(f"input[value={lang}]")
        page.wait_for_selector(f"html[lang={lang}]")
        for screen in SCREENS:
            show(page, screen)
            result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
            bad = [f"{v['id']} ({v['impact']})" for v in result["violations"]
                   if v["impact"] in {"serious", "critical"}]
            if bad:
                found[f"{lang}/{screen}"] = bad
    assert found == {}


@pytest.mark.parametrize(("width", "height", "text_px"),
                         [(390, 844, 16), (390, 844, 32), (1280, 800, 16)])
def test_screenshots_fit_the_window(browser: Any, web_server: web.RecordingServer,
                                    tmp_path: Path, width: int, height: int,
                                    text_px: int) -> None:
    # The browser's own text size setting (Settings > Appearance > Font size), set in the
    # profile the way a user's choice is stored.
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    (profile / "Default" / "Preferences").write_text(json.dumps(
        {"webkit": {"webprefs": {"default_font_size": text_px}}}))
    ctx = browser.browser_type.launch_persistent_context(
        str(profile), executable_path=web.chromium_path(), headless=True,
        viewport={"width": width, "height": height}, locale="en-US")
    try:
        page = ctx.new_page()
        open_app(page, web_server)
        assert page.evaluate("getComputedStyle(document.body).fontSize") == f"{text_px}px"
        visit_every_screen(page)
        for lang in ("en", "es-MX"):
            show(page, "settings")
            page.click(f"input[value={lang}]")
            page.wait_for_selector(f"html[lang={lang}]")
            for screen in SCREENS:
                show(page, screen)
                size = f"{width}x{height}" + ("-text200" if text_px != 16 else "")
                web.screenshot(page, f"{screen}-{lang}-{size}")
                assert web.overflowing(page) == [], f"{lang}/{screen} at {size}"
                scroll = page.evaluate("document.documentElement.scrollWidth")
                assert scroll <= width, f"{lang}/{screen} scrolls sideways at {size}"
    finally:
        ctx.close()
