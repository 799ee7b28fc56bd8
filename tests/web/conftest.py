"""Fixtures of the web companion's browser tests; the rig itself is tests/support/web.py.

* ``web_build``: the bundle built once per test session into a temporary folder;
* ``web_server``: the real ``medcrypt ui`` server over it on loopback (function scope, a
  new port and secret per test, so every test starts from an empty origin);
* ``browser``: headless Debian chromium through Playwright (``executable_path``, never a
  downloaded browser), one per test module;
* ``context`` / ``page``: a fresh browser context with the request recorder and the
  CSP-violation probe attached;
* screenshots go to test-artifacts/web/ (printed at the end of the run).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import web


@pytest.fixture(scope="session")
def web_build(tmp_path_factory: pytest.TempPathFactory) -> web.Build:
    return web.build_web(tmp_path_factory.mktemp("web") / "dist")


@pytest.fixture
def web_server(web_build: web.Build) -> Iterator[web.RecordingServer]:
    with web.serve(web_build.outdir) as server:
        yield server


# Module scope, not session: Playwright's sync API runs one event loop per process, and a
# second `sync_playwright()` while one is open fails ("Sync API inside the asyncio loop").
# pytest tears a module's fixtures down before the next module starts, so other web tests
# that start their own Playwright (the vector and keystore suites) never overlap with it.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = web.chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        web.unavailable("playwright is not installed (it is in the dev extra)")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=executable, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def request_log() -> web.RequestLog:
    return web.RequestLog()


@pytest.fixture
def context(browser: Any, request_log: web.RequestLog) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    ctx.add_init_script(web.VIOLATION_PROBE)
    request_log.attach(ctx)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if web.ARTIFACTS.is_dir() and any(web.ARTIFACTS.iterdir()):
        terminalreporter.write_line(f"web screenshots: {web.ARTIFACTS}")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    web.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return web.ARTIFACTS
