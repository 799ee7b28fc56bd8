"""The app shell in headless Debian chromium, served by `medcrypt ui`'s server: the CSP
on every response, no request but same-origin assets, no policy violation, the token
paths (link fragment, share target) that never reach a server, installability, and the
Host check against a real DNS-rebinding page."""

from __future__ import annotations

from typing import Any

from medcrypt.companion.webui.server import CSP, WORKER_CSP
from tests.support import web
from tests.support.web import READY, controlled, open_app, visit_every_screen

TOKEN = "[MEDCRYPT:v3:QUJDREVGR0hJSktMTU5PUA==]"


def test_no_request_but_same_origin_assets_and_the_csp_on_each(
        page: Any, web_server: web.RecordingServer, request_log: web.RequestLog) -> None:
    responses: list[Any] = []
    page.on("response", lambda response: responses.append(response))
    controlled(page, web_server)
    visit_every_screen(page)
    page.click("nav button[data-screen=settings]")
    page.click("input[value=es-MX]")
    page.wait_for_selector("html[lang=es-MX]")
    page.reload()
    page.wait_for_selector(READY)
    visit_every_screen(page)
    page.wait_for_timeout(500)
    assert request_log.requests, "the recorder saw nothing"
    allowed = web_server.base_url
    foreign = [u for u in request_log.urls() if not u.startswith(allowed)]
    assert foreign == []
    assert responses
    for response in responses:
        expected = WORKER_CSP if response.url.endswith("/app/sw.js") else CSP
        assert response.headers.get("content-security-policy") == expected, response.url
    served = {s.path for s in web_server.seen}
    bundle_paths = {"/" + p for p in web_server.server.bundle.files} | {"/", "/app/"}
    assert served <= bundle_paths
    assert page.evaluate("window.__cspViolations") == []


def test_a_token_link_is_read_locally_and_erased(
        page: Any, web_server: web.RecordingServer, request_log: web.RequestLog) -> None:
    open_app(page, web_server, "#" + TOKEN.replace("[", "%5B").replace("]", "%5D"))
    page.wait_for_selector("[data-inbox='1']")
    assert "A token arrived" in page.inner_text("#status")
    assert page.evaluate("location.hash") == ""
    assert page.evaluate("location.href") == web_server.app_url
    assert not any("MEDCRYPT" in u for u in request_log.urls())
    assert not any("MEDCRYPT" in s.path for s in web_server.seen)
    # The fragment is gone from this history entry too: a reload finds nothing.
    page.reload()
    page.wait_for_selector(READY)
    assert page.get_attribute("[data-inbox]", "data-inbox") == "0"


def test_a_share_to_the_app_is_answered_by_the_worker(
        context: Any, page: Any, web_server: web.RecordingServer) -> None:
    controlled(page, web_server)
    # Android's "share to" launches a POST navigation to the manifest's share_target;
    # a plain page outside the app stands in for the launcher.
    sharer = context.new_page()
    sharer.goto("about:blank")
    sharer.evaluate("""([action, token]) => {
      const form = document.createElement('form');
      form.method = 'POST'; form.action = action; form.enctype = 'multipart/form-data';
      const text = document.createElement('input');
      text.name = 'text'; text.value = 'Your doctor wrote: ' + token;
      form.append(text); document.body.append(form); form.submit();
    }""", [web_server.app_url + "share", TOKEN])
    sharer.wait_for_selector("[data-inbox='1']")
    assert sharer.evaluate("location.hash") == ""
    assert [s for s in web_server.seen if s.method != "GET"] == []


def test_the_app_is_installable_under_its_policy(
        browser: Any, web_server: web.RecordingServer, tmp_path: Any) -> None:
    pw_browser_type = browser.browser_type
    ctx = pw_browser_type.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=web.chromium_path(), headless=True)
    try:
        page = ctx.new_page()
        controlled(page, web_server)
        cdp = ctx.new_cdp_session(page)
        errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
        assert errors == []
        manifest = cdp.send("Page.getAppManifest")
        assert manifest["errors"] == []
        assert manifest["manifest"]["shareTarget"]["action"] == web_server.app_url + "share"
    finally:
        ctx.close()


def test_a_rebinding_name_gets_a_plain_error(
        browser: Any, web_server: web.RecordingServer) -> None:
    port = web_server.server.port
    rebinding = browser.browser_type.launch(
        executable_path=web.chromium_path(), headless=True,
        args=["--host-resolver-rules=MAP rebind.attacker.test 127.0.0.1"])
    try:
        page = rebinding.new_page()
        url = web_server.app_url.replace("127.0.0.1", "rebind.attacker.test")
        response = page.goto(url)
        assert response is not None and response.status == 421
        assert "wrong Host header" in page.inner_text("body")
        assert page.evaluate("document.querySelector('meta[name=medcrypt-bundle-sha256]')") is None
        assert any(s.host == f"rebind.attacker.test:{port}" for s in web_server.seen)
    finally:
        rebinding.close()
