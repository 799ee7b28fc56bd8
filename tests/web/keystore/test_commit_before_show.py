"""Commit before show: a token is returned only once the state that produced it is
durably in IndexedDB, so a browser killed right after a token was shown restarts from
the state after that token and cannot produce it a second time.

The attack runs first: showing the token inside the step, before the commit (the order
transact() exists to forbid), then killing the browser as the token appears, and the
same token comes out again after the restart. The product's order survives the same
kill. The kill is a SIGKILL of the Chromium browser process at the moment the token is
shown: no unload handler, no orderly shutdown.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Playwright

from tests.support import web_keystore as rig
from tests.support.web_keystore import PASS, code, ok

PAIRING = "dd" * 16
ROUNDS = 3


def _shown_tokens(pw: Playwright, page_url: str, profile: Path, method: str) -> list[str]:
    ctx = rig.launch(pw, profile)
    page = rig.open_page(ctx, page_url)
    ok(page, "create", PASS)
    ok(page, "addPairing", PAIRING)
    ctx.close()
    return rig.shown_across_crashes(pw, page_url, profile, ROUNDS, method, PAIRING)


def test_attack_showing_before_the_commit_repeats_a_token(
        pw: Playwright, page_url: str, tmp_path: Path) -> None:
    shown = _shown_tokens(pw, page_url, tmp_path / "profile", "showThenCommit")
    assert len(shown) == ROUNDS
    # Every restart came back to the state before the shown token: the same token again.
    assert len(set(shown)) == 1, shown


def test_transact_commits_before_the_token_is_shown(
        pw: Playwright, page_url: str, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    shown = _shown_tokens(pw, page_url, profile, "stepThenShow")
    assert len(shown) == ROUNDS
    assert len(set(shown)) == ROUNDS, shown
    assert [t.split(":")[0] for t in shown] == [str(i) for i in range(ROUNDS)]
    # And after the last crash the state is past every shown token.
    ctx = rig.launch(pw, profile)
    page = rig.open_page(ctx, page_url)
    ok(page, "unlock", PASS)
    assert ok(page, "step", PAIRING).split(":")[0] == str(ROUNDS)
    ctx.close()


def test_a_failed_write_returns_no_output_and_keeps_the_old_state(
        pw: Playwright, page_url: str, tmp_path: Path) -> None:
    ctx = rig.launch(pw, tmp_path / "profile")
    page = rig.open_page(ctx, page_url)
    ok(page, "create", PASS)
    ok(page, "addPairing", PAIRING)
    assert ok(page, "step", PAIRING).split(":")[0] == "0"
    before = ok(page, "rawRecord")
    ok(page, "breakWrites")
    assert code(page, "step", PAIRING) == "keystore_write_failed"
    assert code(page, "step", PAIRING) == "keystore_write_failed"
    assert ok(page, "rawRecord") == before
    # The stored state is the last committed one: after a reload the next step is 1.
    page.reload()
    page.wait_for_function("document.title === 'keystore-test-ready'")
    ok(page, "unlock", PASS)
    assert ok(page, "step", PAIRING).split(":")[0] == "1"
    ctx.close()
