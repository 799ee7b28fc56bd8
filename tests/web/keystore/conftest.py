"""Fixtures for the web keystore tests: one bundle and one loopback server per module,
Playwright per test (it is in the dev lock), profile directories under tmp_path. Helpers
live in tests/support/web_keystore.py.

Without Chromium or web/node_modules the tests skip, except where
MEDCRYPT_REQUIRE_BROWSER=1 (scripts/test.sh sets it under CI): there they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import web_keystore as rig

REQUIRED = os.environ.get("MEDCRYPT_REQUIRE_BROWSER") == "1"



def _missing(what: str) -> Any:
    if REQUIRED:
        pytest.fail(f"browser tests required, but {what}")
    pytest.skip(what)


@pytest.fixture(scope="module")
def page_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not Path(rig.CHROMIUM).exists():
        _missing(f"no Chromium at {rig.CHROMIUM} (scripts/chromium.sh installs it)")
    if not (rig.WEB / "node_modules" / ".bin" / "esbuild").exists():
        _missing("web/node_modules is missing (cd web && npm ci)")
    out = rig.build_page(tmp_path_factory.mktemp("keystore-page"))
    with rig.serve(out) as url:
        yield url


@pytest.fixture
def pw() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p
