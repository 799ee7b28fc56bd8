"""One tab at a time: two real pages of one profile cannot both hold the keystore, so
two tabs can never both advance a ratchet (each would send with the same chain key)."""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import Page, Playwright

from tests.support import web_keystore as rig
from tests.support.web_keystore import PASS, call, code, ok


def _unlock_once_freed(page: Page, timeout_s: float = 15.0) -> None:
    """Unlock as soon as the browser has let the closed tab's lock go (it does so
    asynchronously, after the tab's process is torn down)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = call(page, "unlock", PASS)
        if "ok" in result:
            return
        assert result["error"] == "keystore_open_in_another_tab", result
        assert time.monotonic() < deadline, "the closed tab's lock was never freed"
        time.sleep(0.1)


def test_second_tab_is_refused_and_cannot_advance_the_ratchet(
        pw: Playwright, page_url: str, tmp_path: Path) -> None:
    ctx = rig.launch(pw, tmp_path / "profile")
    first = rig.open_page(ctx, page_url)
    ok(first, "create", PASS)
    pid = "bb" * 16
    ok(first, "addPairing", pid)
    ok(first, "lock")

    second = rig.open_page(ctx, page_url)
    ok(first, "unlock", PASS)
    assert code(second, "unlock", PASS) == "keystore_open_in_another_tab"
    # The refused tab has no keystore at all: nothing to step.
    assert code(second, "step", pid).startswith("js:")
    tokens = [ok(first, "step", pid) for _ in range(3)]
    assert [t.split(":")[0] for t in tokens] == ["0", "1", "2"]
    # It cannot set up a keystore over the held one either.
    assert code(second, "create", PASS, True, True) == "keystore_open_in_another_tab"

    # When the first tab goes away, the browser frees the lock: the second one continues
    # from the state the first committed, never from an older one.
    first.close()
    _unlock_once_freed(second)
    nxt = ok(second, "step", pid)
    assert nxt.split(":")[0] == "3"
    assert nxt not in tokens
    ctx.close()


def test_a_locked_store_refuses_to_step(pw: Playwright, page_url: str, tmp_path: Path) -> None:
    ctx = rig.launch(pw, tmp_path / "profile")
    page = rig.open_page(ctx, page_url)
    ok(page, "create", PASS)
    ok(page, "addPairing", "cc" * 16)
    ok(page, "lock")
    assert code(page, "step", "cc" * 16) == "keystore_closed"
    assert code(page, "doc") == "keystore_closed"
    ctx.close()
