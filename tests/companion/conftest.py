"""Fixtures for the companion tests: the ``medcrypt`` CLI in-process and a paired couple."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.companion import Cli, Pair, english_locale, make_pair


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    english_locale(monkeypatch)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> Cli:
    return Cli(capsys, monkeypatch, tmp_path)


@pytest.fixture
def pair(cli: Cli) -> Pair:
    return make_pair(cli)
