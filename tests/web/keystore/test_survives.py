"""The keystore survives what a phone's browser does to a page: a reload, and the
browser itself closing and starting again on the same profile; and it refuses a wrong
passphrase with a stable code, changing nothing it stores."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Playwright

from tests.support import web_keystore as rig
from tests.support.web_keystore import PASS, call, code, ok

#: A second drawn-shape passphrase.
OTHER = "shadow orange river cabin valley"


def test_survives_reload_and_browser_restart(pw: Playwright, page_url: str,
                                             tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    ctx = rig.launch(pw, profile)
    page = rig.open_page(ctx, page_url)
    assert ok(page, "exists") is False
    made = ok(page, "create", PASS)
    assert made["storage"]["risk"] in ("persistent", "best-effort")
    assert isinstance(made["storage"]["persistGranted"], bool)
    ok(page, "addPairing", "aa" * 16)
    first = ok(page, "step", "aa" * 16)

    page.reload()
    page.wait_for_function("document.title === 'keystore-test-ready'")
    assert ok(page, "exists") is True
    ok(page, "unlock", PASS)
    second = ok(page, "step", "aa" * 16)
    assert (first.split(":")[0], second.split(":")[0]) == ("0", "1")
    ctx.close()  # the browser process ends

    ctx = rig.launch(pw, profile)
    page = rig.open_page(ctx, page_url)
    ok(page, "unlock", PASS)
    doc = ok(page, "doc")
    assert doc["format"] == "medcrypt-web/1"
    assert doc["role"] == "patient"
    assert doc["pairings"]["aa" * 16]["label"] == f"pairing {'aa' * 16}"
    third = ok(page, "step", "aa" * 16)
    assert third.split(":")[0] == "2"
    assert len({first, second, third}) == 3
    ctx.close()


def test_wrong_passphrase_is_refused_and_changes_nothing(pw: Playwright, page_url: str,
                                                         tmp_path: Path) -> None:
    # The product's Argon2id cost (3 passes over 128 MiB), as a user's keystore has it.
    ctx = rig.launch(pw, tmp_path / "profile")
    page = rig.open_page(ctx, page_url)
    ok(page, "create", PASS, False)
    ok(page, "lock")
    before = ok(page, "rawRecord")

    typo = "orbit valley cabin noble ticker"
    assert code(page, "unlock", typo, False) == "keystore_wrong_passphrase"
    assert code(page, "unlock", "", False) == "keystore_weak_passphrase"
    # The failed attempts let the tab lock go and wrote nothing.
    assert ok(page, "rawRecord") == before
    assert ok(page, "unlocked") is False
    ok(page, "unlock", PASS, False)
    assert ok(page, "rawRecord") == before  # an unlock at the product cost re-seals nothing
    ctx.close()


def test_only_a_drawn_passphrase_makes_a_keystore(pw: Playwright, page_url: str,
                                                   tmp_path: Path) -> None:
    """A new seal takes a passphrase of the drawn shape only (ADR 0042): chosen ones, and
    drawn ones not in canonical form, are refused before anything is written."""
    ctx = rig.launch(pw, tmp_path / "profile")
    page = rig.open_page(ctx, page_url)
    for weak in ("password1", "letmein123", "patient2026", "aaaaaaaaaaaa", "medcrypt",
                 "quartz lantern orbit fennel", "orbit valley cabin noble",
                 PASS.upper(), f" {PASS}", PASS.replace(" ", "-")):
        assert code(page, "create", weak) == "keystore_weak_passphrase", weak
    assert ok(page, "exists") is False
    ok(page, "create", PASS)
    assert code(page, "create", OTHER) == "keystore_open_in_another_tab"
    ok(page, "lock")
    assert code(page, "create", OTHER) == "keystore_exists"
    ctx.close()


def test_a_drawn_passphrase_unlocks_in_any_case_and_spacing(pw: Playwright, page_url: str,
                                                           tmp_path: Path) -> None:
    ctx = rig.launch(pw, tmp_path / "profile")
    page = rig.open_page(ctx, page_url)
    ok(page, "create", PASS)
    ok(page, "lock")
    for typed in (PASS.upper(), "  Orbit\nVALLEY  cabin,noble - ticket ",
                  "1. orbit 2. valley 3. cabin 4. noble 5. ticket"):
        ok(page, "unlock", typed)
        ok(page, "lock")
    assert code(page, "unlock", "orbit valley cabin noble") == "keystore_wrong_passphrase"
    assert code(page, "unlock", "orbitvalley cabin noble ticket") == "keystore_wrong_passphrase"
    ctx.close()


def test_a_weaker_cost_is_raised_at_unlock(pw: Playwright, page_url: str,
                                           tmp_path: Path) -> None:
    ctx = rig.launch(pw, tmp_path / "profile")
    page = rig.open_page(ctx, page_url)
    ok(page, "create", PASS, True)  # libsodium's minimum cost
    ok(page, "lock")
    inner_before = rig.b64d(ok(page, "innerBlob"))
    assert int.from_bytes(inner_before[5:9], "big") == 1
    ok(page, "unlock", PASS, False)  # the product profile: re-sealed at once
    inner_after = rig.b64d(ok(page, "innerBlob"))
    assert int.from_bytes(inner_after[5:9], "big") == 3
    assert int.from_bytes(inner_after[9:13], "big") == 128 * 1024 * 1024
    assert inner_after[13:29] != inner_before[13:29]  # fresh salt
    ok(page, "lock")
    assert call(page, "unlock", PASS, True) == {"ok": True}  # never lowered again
    assert int.from_bytes(rig.b64d(ok(page, "innerBlob"))[5:9], "big") == 3
    ctx.close()
