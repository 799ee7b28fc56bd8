"""The keystore under the real v3 ratchet (web/src/protocol): the patient's session lives
in the keystore and every send goes through `transactPairing`; the physician's session
is held here and opens what the browser shows.

A crash at the moment a token is shown: in the product's order the next send after the
restart uses the next message key; showing before the commit (the attack, run first)
sends a second token on the same chain and index - a message key used twice, which the
physician's companion refuses as a replay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, Playwright

from tests.support import web_keystore as rig
from tests.support.web_keystore import PASS, call, ok

PAIRING = "5a" * 16
ROUNDS = 3


def _paired(pw: Playwright, page_url: str, profile: Path) -> dict[str, Any]:
    ctx = rig.launch(pw, profile)
    page = rig.open_page(ctx, page_url)
    ok(page, "create", PASS)
    peer: dict[str, Any] = ok(page, "pairV3", PAIRING)
    ctx.close()
    return peer


def _open_all(page: Page, state: dict[str, Any], tokens: list[str]) -> list[dict[str, Any]]:
    results = []
    for token in tokens:
        result = call(page, "peerOpen", state, token)
        if "ok" in result:
            state = result["ok"]["state"]
        results.append(result)
    return results


def test_messages_survive_a_restart_and_open_once_each(
        pw: Playwright, page_url: str, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    peer = _paired(pw, page_url, profile)
    tokens = []
    for round_ in range(2):
        ctx = rig.launch(pw, profile)
        page = rig.open_page(ctx, page_url)
        ok(page, "unlock", PASS)
        tokens += [ok(page, "sendV3", PAIRING, f"message {round_}.{i}") for i in range(3)]
        ctx.close()
    ctx = rig.launch(pw, profile)
    page = rig.open_page(ctx, page_url)
    opened = _open_all(page, peer["physician"], tokens)
    assert all("ok" in r for r in opened), opened
    assert [r["ok"]["text"] for r in opened] == [f"message {r}.{i}" for r in range(2)
                                                 for i in range(3)]
    assert [r["ok"]["index"] for r in opened] == list(range(6))
    ctx.close()


def test_attack_showing_before_the_commit_reuses_a_message_key(
        pw: Playwright, page_url: str, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    peer = _paired(pw, page_url, profile)
    shown = rig.shown_across_crashes(pw, page_url, profile, ROUNDS, "sendV3ShowFirst",
                                     PAIRING, "hello")
    assert len(shown) == ROUNDS
    ctx = rig.launch(pw, profile)
    page = rig.open_page(ctx, page_url)
    opened = _open_all(page, peer["physician"], shown)
    # The first opens; every later one was sealed with the same chain key and index.
    assert "ok" in opened[0]
    assert [r.get("error") for r in opened[1:]] == ["replay_detected"] * (ROUNDS - 1)
    ctx.close()


def test_committed_before_shown_every_token_opens_once(
        pw: Playwright, page_url: str, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    peer = _paired(pw, page_url, profile)
    shown = rig.shown_across_crashes(pw, page_url, profile, ROUNDS, "sendV3ThenShow",
                                     PAIRING, "hello")
    assert len(shown) == ROUNDS
    ctx = rig.launch(pw, profile)
    page = rig.open_page(ctx, page_url)
    opened = _open_all(page, peer["physician"], shown)
    assert all("ok" in r for r in opened), opened
    assert [r["ok"]["index"] for r in opened] == list(range(ROUNDS))
    ctx.close()
