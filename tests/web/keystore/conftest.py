"""Fixtures for the web keystore tests: one bundle and one loopback server per module,
Playwright per test, profile directories under tmp_path. Helpers live in rig.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("playwright", reason="the web tests drive Chromium through Playwright")
from playwright.sync_api import Playwright, sync_playwright

from tests.web.keystore import rig


@pytest.fixture(scope="module")
def page_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not Path(rig.CHROMIUM).exists():
        pytest.skip(f"no Chromium at {rig.CHROMIUM} (scripts/chromium.sh installs it)")
    out = rig.build_page(tmp_path_factory.mktemp("keystore-page"))
    with rig.serve(out) as url:
        yield url


@pytest.fixture
def pw() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p
