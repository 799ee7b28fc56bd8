"""Property tests for what the web keystore parses and writes, in the browser:
- the document encoder is the CLI's (Python's json.dumps with sorted keys, ASCII);
- an export file, cut, flipped or extended anywhere, is refused with a typed code;
- a stored record, altered anywhere, is refused with a typed code and opens nothing;
- the passphrase floor gives the CLI's zxcvbn score on the same passphrases.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Page

from medcrypt.companion.passphrase_strength import estimate
from tests.support import web_keystore as rig
from tests.support.web_keystore import PASS, call, ok

EXPORT_PASS = "walnut harbor copper meadow"
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


PASSPHRASES = [
    "password1", "letmein123", "patient2026", "aaaaaaaaaaaa", "medcrypt", "blue elephant",
    "zebra piano", "correct horse battery staple", "Tr0ub4dor&3", "qwertyuiop",
    "1q2w3e4r5t", "iloveyou2", "physician clinic", "sam rivera 1984", "Rivera-Knee-2026",
    "walnut harbor copper meadow", "contraseña segura", "mañana será otro día",
    "el médico de guardia", "x" * 80, "abc" * 30, "j8$Kp2!vQz", "summer2026!", "dragon",
    "\u00e9t\u00e9 \u00e0 la plage", "日本語のパスフレーズ", "hunter2hunter2",
]


def test_passphrase_scores_match_the_cli(page: Page) -> None:
    web = ok(page, "strength", PASSPHRASES)
    cli = [estimate(p).score for p in PASSPHRASES]
    assert web == cli, list(zip(PASSPHRASES, web, cli, strict=True))


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
