"""Property tests for what the web keystore parses and writes, in the browser:
- the document encoder is the CLI's (Python's json.dumps with sorted keys, ASCII);
- an export file, cut, flipped or extended anywhere, is refused with a typed code;
- a stored record, altered anywhere, is refused with a typed code and opens nothing;
- every passphrase the app draws clears the CLI's floor by the CLI's own estimator.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Page

from medcrypt.companion.passphrase_strength import MIN_SCORE, estimate
from tests.support import web_keystore as rig
from tests.support.web_keystore import PASS, call, ok

EXPORT_PASS = "walnut harbor copper meadow river"
TYPED = {"keystore_wrong_passphrase", "keystore_not_an_export", "keystore_damaged",
         "keystore_device_key_mismatch", "keystore_weak_passphrase"}
SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def page(page_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    """One browser for the module, with a keystore that is exported, then locked."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        ctx = rig.launch(p, tmp_path_factory.mktemp("parsers") / "profile")
        pg = rig.open_page(ctx, page_url)
        ok(pg, "create", PASS)
        ok(pg, "addPairing", "0f" * 16)
        pg.evaluate("(b) => { window.exportB64 = b; }", ok(pg, "exportSealed", EXPORT_PASS))
        ok(pg, "lock")
        yield pg
        ctx.close()


@pytest.fixture(scope="module")
def export_bytes(page: Page) -> bytes:
    return rig.b64d(page.evaluate("window.exportB64"))


@pytest.fixture(scope="module")
def record_bytes(page: Page) -> bytes:
    return rig.b64d(ok(page, "rawRecord"))


json_keys = st.text(st.characters(codec="ascii"), max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(json_keys, inner, max_size=4),
    max_leaves=20)


@SETTINGS
@given(value=st.dictionaries(json_keys, json_values, max_size=6))
def test_document_encoding_is_pythons(page: Page, value: dict[str, Any]) -> None:
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert ok(page, "canonical", value) == expected


def _mutations(data: bytes) -> st.SearchStrategy[bytes]:
    # Never raise the Argon2id cost fields (bytes 5..12): a valid but huge cost is a
    # slow unlock, not a parser case; parse_header's bounds are tested on their own.
    positions = st.sampled_from([i for i in range(len(data)) if not 5 <= i < 13])
    flip = st.tuples(positions, st.integers(1, 255)).map(
        lambda pv: data[:pv[0]] + bytes([data[pv[0]] ^ pv[1]]) + data[pv[0] + 1:])
    cut = st.integers(0, len(data) - 1).map(lambda n: data[:n])
    extend = st.binary(min_size=1, max_size=64).map(lambda tail: data + tail)
    return flip | cut | extend | st.binary(max_size=200)


@SETTINGS
@given(data=st.data())
def test_altered_export_is_refused_with_a_code(page: Page, export_bytes: bytes,
                                               data: st.DataObject) -> None:
    mutated = data.draw(_mutations(export_bytes))
    result = call(page, "openExport", rig.b64e(mutated), EXPORT_PASS)
    if mutated == export_bytes:
        assert "ok" in result
    elif len(mutated) > len(export_bytes) and mutated.startswith(export_bytes):
        assert result.get("error") == "keystore_wrong_passphrase"  # trailing bytes fail the tag
    else:
        assert result.get("error") in TYPED, result


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_altered_record_is_refused_with_a_code(page: Page, record_bytes: bytes,
                                               data: st.DataObject) -> None:
    mutated = data.draw(_mutations(record_bytes).filter(lambda m: m != record_bytes))
    ok(page, "plantRecord", rig.b64e(mutated))
    try:
        result = call(page, "unlock", PASS)
        assert result.get("error") in TYPED, result
        assert ok(page, "unlocked") is False
    finally:
        ok(page, "plantRecord", rig.b64e(record_bytes))


@pytest.mark.parametrize(("opslimit", "memlimit"), [(0, 8192), (17, 8192), (1, 8191),
                                                    (1, 2**30 + 1), (2**32 - 1, 2**32 - 1)])
def test_absurd_export_costs_are_refused_before_argon2id(
        page: Page, export_bytes: bytes, opslimit: int, memlimit: int) -> None:
    bad = (export_bytes[:5] + opslimit.to_bytes(4, "big") + memlimit.to_bytes(4, "big")
           + export_bytes[13:])
    assert call(page, "openExport", rig.b64e(bad), EXPORT_PASS)["error"] == \
        "keystore_not_an_export"


def test_drawn_passphrases_clear_the_cli_floor_by_the_cli_estimator(page: Page) -> None:
    """"The same minimum strength as the CLI": 100 passphrases per language drawn in the
    browser as the setup screen draws them, each rated by the CLI's zxcvbn with the CLI's
    hints. The honest count is 2048^5 = 2^55 ~ 10^16.6 (the attacker knows the list);
    zxcvbn, which does not know it, rates them higher still. The floor is 10^6 (score 2)."""
    seen: set[str] = set()
    lowest = math.inf
    for language in ("en", "es"):
        drawn = ok(page, "generate", language, 100)
        for d in drawn:
            assert len(d["words"]) == 5
            assert d["canonical"] not in seen  # 200 draws of 2^55: a repeat is a broken RNG
            seen.add(d["canonical"])
            rated = estimate(d["canonical"])
            assert rated.score >= MIN_SCORE, d["canonical"]
            lowest = min(lowest, rated.score)
    print(f"lowest CLI zxcvbn score of 200 drawn passphrases: {lowest} (floor {MIN_SCORE})")


def test_setup_reports_storage(page: Page) -> None:
    report = ok(page, "persistence")
    assert report["risk"] in ("persistent", "best-effort")  # Chromium on Linux: not WebKit
    assert (report["risk"] == "persistent") == (report["persistGranted"] is True)




USER_AGENTS = {
    # Safari on macOS and every browser on iOS (all WebKit there, Chrome's CriOS too).
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15": True,
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.5 Mobile/15E148 Safari/604.1": True,
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1": True,
    # Blink and Gecko elsewhere: eviction only under pressure, persist() applies.
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36": False,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36": False,
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0": False,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0": False,
}


def test_webkit_purge_risk_is_told_apart(page: Page) -> None:
    assert ok(page, "webkitPurges", list(USER_AGENTS)) == list(USER_AGENTS.values())
