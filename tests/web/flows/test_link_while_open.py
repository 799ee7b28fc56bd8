"""A ``#token`` link opened while the app is already open and unlocked (a same-document
navigation: no load, only ``hashchange``) is read at once into the open thread, erased
from the address bar, and never reaches the server: the server sees no request at all
that carries it (at most the browser asks for the page's icon again, a bundle asset), and
the page is not reloaded (a marker set before survives, no unlock asked)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.support import web
from tests.support.web_flows import open_thread, pair_web, seal, two_set_up, wait_until


def test_a_token_link_opened_in_the_running_app_is_read_at_once(
        browser: Any, web_server: web.RecordingServer) -> None:
    with two_set_up(browser, web_server) as (physician, patient):
        pair_web(physician, patient)
        open_thread(physician, "Sam — knee")
        [tok] = seal(physician, "see you at nine", "telegram")
        open_thread(patient, "Dr Rivera")
        patient.evaluate("window.__stillThisPage = true")
        requests: list[str] = []
        patient.on("request", lambda req: requests.append(req.url))
        seen_before = len(web_server.seen)
        assets = {"/" + p for p in web_server.server.bundle.files}
        body = tok[len("[MEDCRYPT:v3:"):-1]

        def clean() -> None:
            """Nothing the browser asked for or the server saw holds the token; what was
            asked for is bundle assets of this origin only."""
            assert all(u.startswith(web_server.base_url) for u in requests)
            assert not any("MEDCRYPT" in u or body[:24] in u or "%5B" in u for u in requests)
            new = web_server.seen[seen_before:]
            assert {s.path for s in new} <= assets
            assert not any("MEDCRYPT" in s.path or "%5B" in s.path for s in web_server.seen)
        patient.goto(web_server.app_url + "#" + quote(tok, safe=""))
        wait_until(patient, "() => document.querySelectorAll('li.msg[data-dir=in]').length == 1")
        got = patient.eval_on_selector_all("li.msg[data-dir=in] p",
                                           "ps => ps.map(p => p.textContent)")
        assert got == ["see you at nine"]
        assert patient.evaluate("window.__stillThisPage") is True  # no reload, no unlock
        wait_until(patient, "() => location.hash === ''")
        assert patient.url == web_server.app_url
        clean()
        # A second link in the same open app works the same way.
        [tok2] = seal(physician, "bring the scan", "telegram")
        patient.evaluate(f"location.hash = {quote(tok2, safe='')!r}")
        wait_until(patient, "() => document.querySelectorAll('li.msg[data-dir=in]').length == 2")
        assert patient.evaluate("location.hash") == ""
        clean()
