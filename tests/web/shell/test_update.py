"""A changed bundle on the server does not take over a running, installed app without
the user's consent, and does after it (ADR 0029). The server really serves a second,
different build; the app learns of it through the browser's own update check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from medcrypt.companion.webui.bundle import Bundle
from medcrypt.companion.webui.location import load_local
from tests.support import web
from tests.support.web import READY, controlled

TAGLINE = "This is the second build"


@pytest.fixture(scope="module")
def second_build(tmp_path_factory: pytest.TempPathFactory, web_build: web.Build) -> web.Build:
    return web.build_variant(tmp_path_factory.mktemp("variant"), TAGLINE)


def running_hash(page: Any) -> str:
    return str(page.get_attribute("meta[name=medcrypt-bundle-sha256]", "content"))


def publish_update(page: Any, server: web.RecordingServer, build: web.Build) -> None:
    server.swap(load_local(build.outdir))
    page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.update())")
    page.wait_for_selector("#update-dialog[open]", timeout=15000)


def test_an_update_waits_for_consent_then_switches(
        page: Any, web_server: web.RecordingServer, web_build: web.Build,
        second_build: web.Build) -> None:
    controlled(page, web_server)
    assert running_hash(page) == web_build.bundle_hash
    publish_update(page, web_server, second_build)
    dialog = page.locator("#update-dialog")
    # Use is blocked (a modal dialog makes the rest inert) and both hashes are shown.
    assert dialog.get_attribute("data-new-hash") is None
    assert page.get_attribute("[data-new-hash]", "data-new-hash") == second_build.bundle_hash
    assert page.get_attribute("[data-current-hash]", "data-current-hash") == web_build.bundle_hash
    with pytest.raises(Exception, match="Timeout"):
        page.click("nav button[data-screen=about]", timeout=1000)
    web.screenshot(page, "update-dialog-390x844")
    # Escape does not dismiss it, and a reload still runs the old version.
    page.keyboard.press("Escape")
    assert dialog.is_visible()
    page.reload()
    page.wait_for_selector(READY)
    assert running_hash(page) == web_build.bundle_hash
    assert TAGLINE not in page.inner_text("main")
    # Consent: the app leaves for the entry page, the new worker activates, app/ returns.
    page.wait_for_selector("#update-dialog[open]", timeout=15000)
    page.click("#update-dialog [data-action=switch]")
    # A function, not a string: a string predicate is eval()ed, which the CSP forbids.
    page.wait_for_function("(hash) => document.querySelector("
                           "'meta[name=medcrypt-bundle-sha256]')?.content === hash",
                           arg=second_build.bundle_hash, timeout=15000)
    page.wait_for_selector(READY)
    assert page.url == web_server.app_url
    assert TAGLINE in page.inner_text("main")
    assert page.locator("dialog[open]").count() == 0  # approved: no second question
    page.click("nav button[data-screen=about]")
    assert page.get_attribute("[data-bundle-hash]", "data-bundle-hash") == second_build.bundle_hash


def test_declined_update_is_gated_when_the_browser_activates_it(
        context: Any, page: Any, web_server: web.RecordingServer, web_build: web.Build,
        second_build: web.Build) -> None:
    controlled(page, web_server)
    publish_update(page, web_server, second_build)
    page.click("#update-dialog [data-action=later]")
    assert page.locator("dialog[open]").count() == 0
    assert running_hash(page) == web_build.bundle_hash  # "not now" keeps the old version
    # Closing the app lets the browser activate the waiting worker (no skipWaiting can
    # stop that); the new version must then block use until the user accepts it.
    page.close()
    again = context.new_page()
    again.goto(web_server.app_url)
    again.wait_for_selector("#changed-dialog[open]", timeout=15000)
    assert running_hash(again) == second_build.bundle_hash
    approved = again.get_attribute("[data-approved-hash]", "data-approved-hash")
    assert approved == web_build.bundle_hash
    with pytest.raises(Exception, match="Timeout"):
        again.click("nav button[data-screen=about]", timeout=1000)
    again.click("#changed-dialog [data-action=accept]")
    again.wait_for_selector(READY)
    again.click("nav button[data-screen=about]")
    assert again.get_attribute("[data-bundle-hash]", "data-bundle-hash") == second_build.bundle_hash
    # Accepted once: the next start asks nothing.
    again.reload()
    again.wait_for_selector(READY)
    assert again.locator("dialog[open]").count() == 0


# What the consent path guards against: a worker that skips waiting and claims the
# clients (the usual "update at once" recipe) takes over the running app.
TAKE_OVER = """
worker.addEventListener("install", () => { void worker.skipWaiting(); });
worker.addEventListener("activate", (event) => event.waitUntil(worker.clients.claim()));
"""


def test_a_worker_that_skips_waiting_would_take_over_without_consent(
        page: Any, web_server: web.RecordingServer, web_build: web.Build,
        tmp_path: Path) -> None:
    hostile = web.build_variant(tmp_path, "Took over without asking", worker_patch=TAKE_OVER)
    controlled(page, web_server)
    web_server.swap(load_local(hostile.outdir))
    settled = page.evaluate("""async () => {
      const r = await navigator.serviceWorker.getRegistration();
      await r.update();
      for (let i = 0; i < 150; i++) {
        if (!r.installing && !r.waiting) return true;
        await new Promise((done) => setTimeout(done, 100));
      }
      return false;
    }""")
    assert settled
    page.reload()
    # The attack works: the new code runs after a plain reload; the old version never
    # got to offer the update (only the new code's own start-up gate, which a hostile
    # version would simply leave out, asks anything).
    page.wait_for_selector("#changed-dialog[open]", timeout=15000)
    assert running_hash(page) == hostile.bundle_hash
    assert page.locator("#update-dialog").count() == 0
    # Which is why the shipped worker has neither call (and test_update above shows the
    # honest update waiting for the user).
    worker_js = (web_build.outdir / "app" / "sw.js").read_text()
    assert "skipWaiting" not in worker_js and "claim(" not in worker_js


def test_a_worker_install_fails_on_an_altered_asset(
        page: Any, web_server: web.RecordingServer) -> None:
    honest = web_server.server.bundle
    main_js = next(p for p in honest.files if p.startswith("app/main-"))
    # Same names, same listing, same worker; one asset differs by a comment (a server
    # half-way through an update, or an altered file).
    web_server.swap(Bundle(sha256=honest.sha256, sums=honest.sums,
                           files={**honest.files, main_js: honest.files[main_js] + b"\n//x\n"}))
    web.open_app(page, web_server)
    outcome = page.evaluate("""async () => {
      for (let i = 0; i < 100; i++) {
        const r = await navigator.serviceWorker.getRegistration();
        if (r && r.active) return 'active';
        if (i > 5 && (!r || (!r.installing && !r.waiting))) return 'no worker';
        await new Promise((done) => setTimeout(done, 100));
      }
      return 'undecided';
    }""")
    assert outcome == "no worker"
    assert page.evaluate("caches.keys()") == []  # the half-filled cache was dropped
    # The honest bundle installs.
    web_server.swap(honest)
    page.reload()
    page.wait_for_selector(READY)
    page.evaluate(web.WORKER_ACTIVATED)
