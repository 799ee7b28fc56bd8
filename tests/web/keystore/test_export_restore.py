"""Export and restore. An export opens in another browser with its passphrase alone;
a restore brings every pairing back needing a re-pair or an authenticated reset, since
its ratchet state is a snapshot that has moved on - and refuses to step on them until
then. An export is not a CLI keystore file, and neither reads the other."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Playwright

from medcrypt.crypto.endpoint.keystore import KeystoreKey
from medcrypt.crypto.errors import KeystoreLocked
from tests.support import web_keystore as rig
from tests.support.web_keystore import PASS, code, ok

P1, P2 = "11" * 16, "22" * 16
EXPORT_PASS = "walnut harbor copper meadow river"


def test_restore_marks_every_pairing_and_refuses_to_step_on_them(
        pw: Playwright, page_url: str, tmp_path: Path) -> None:
    ctx = rig.launch(pw, tmp_path / "phone-a")
    page = rig.open_page(ctx, page_url)
    ok(page, "create", PASS)
    ok(page, "addPairing", P1)
    ok(page, "addPairing", P2)
    assert ok(page, "exportDue") == [P1, P2]
    assert code(page, "exportSealed", "password1") == "keystore_weak_passphrase"
    exported = ok(page, "exportSealed", EXPORT_PASS)
    assert ok(page, "exportDue") == []
    # The phone goes on using the pairing after the export: the snapshot is now stale.
    stale = [ok(page, "step", P1) for _ in range(2)]
    ctx.close()

    ctx = rig.launch(pw, tmp_path / "phone-b")
    page = rig.open_page(ctx, page_url)
    assert code(page, "restore", exported, "walnut harbor copper meadow rivers") == \
        "keystore_wrong_passphrase"
    assert ok(page, "exists") is False
    # The drawn words restore typed as a person copies them from paper.
    restored = ok(page, "restore", exported, "Walnut HARBOR\ncopper  meadow river")
    assert restored["needRepair"] == [P1, P2]
    for pid in (P1, P2):
        assert ok(page, "needsRepair", pid) is True
        # Neither encrypt nor decrypt can run: the step is refused before it starts.
        assert code(page, "step", pid) == "keystore_pairing_needs_repair"
        assert code(page, "sessionOf", pid) == "keystore_pairing_needs_repair"
    doc = ok(page, "doc")
    rec = doc["pairings"][P1]
    assert rec["session"] is None
    assert rec["label"] == f"pairing {P1}"  # the user's name for it survives
    assert rec["needs_repair"]["reason"] == "restored"
    # Not even after a browser restart does the mark go away.
    ctx.close()
    ctx = rig.launch(pw, tmp_path / "phone-b")
    page = rig.open_page(ctx, page_url)
    ok(page, "unlock", EXPORT_PASS)
    assert code(page, "step", P1) == "keystore_pairing_needs_repair"
    # A re-pair (a new session) clears it for that pairing only.
    ok(page, "setSession", P1, {"chain_key": rig.b64e(b"\x07" * 32), "n": 0})
    assert ok(page, "needsRepair", P1) is False
    assert ok(page, "needsRepair", P2) is True
    token = ok(page, "step", P1)
    assert token not in stale
    assert code(page, "step", P2) == "keystore_pairing_needs_repair"
    ctx.close()


def test_export_is_not_a_cli_keystore_and_back(pw: Playwright, page_url: str,
                                               tmp_path: Path) -> None:
    ctx = rig.launch(pw, tmp_path / "profile")
    page = rig.open_page(ctx, page_url)
    ok(page, "create", PASS)
    exported = rig.b64d(ok(page, "exportSealed", EXPORT_PASS))
    assert exported[:5] == b"MCKX\x01"
    # The CLI's reader refuses the export before running Argon2id.
    with pytest.raises(KeystoreLocked):
        KeystoreKey.unlock(EXPORT_PASS, exported)
    # The web refuses a CLI keystore file (and its own inner record) as an export.
    inner = ok(page, "innerBlob")
    assert code(page, "openExport", inner, PASS) == "keystore_not_an_export"
    # Restoring over the keystore this browser has needs `replace`.
    ok(page, "lock")
    assert code(page, "restore", rig.b64e(exported), EXPORT_PASS) == "keystore_exists"
    assert ok(page, "restore", rig.b64e(exported), EXPORT_PASS, True, True)["needRepair"] == []
    ctx.close()


def test_an_export_under_a_chosen_passphrase_restores_and_unlocks_exactly_as_typed(
        pw: Playwright, page_url: str, tmp_path: Path) -> None:
    """Exports made before passphrases were drawn keep working: no strength rule on
    restore or unlock, and no folding of case or spacing either, since the seal holds the
    passphrase as it was typed then."""
    ctx = rig.launch(pw, tmp_path / "phone")
    page = rig.open_page(ctx, page_url)
    chosen = "Quartz Lantern, orbit  fennel!"
    legacy = ok(page, "legacyExport", chosen)
    folded = "quartz lantern orbit fennel"
    assert code(page, "restore", legacy, folded) == "keystore_wrong_passphrase"
    ok(page, "restore", legacy, chosen)
    ok(page, "lock")
    assert code(page, "unlock", folded) == "keystore_wrong_passphrase"
    assert code(page, "unlock", chosen.upper()) == "keystore_wrong_passphrase"
    ok(page, "unlock", chosen)
    # A short chosen one too ("no strength check on restore").
    ok(page, "lock")
    ctx.close()
    ctx = rig.launch(pw, tmp_path / "phone-2")
    page = rig.open_page(ctx, page_url)
    ok(page, "restore", ok(page, "legacyExport", "pw"), "pw")
    ok(page, "lock")
    ok(page, "unlock", "pw")
    ctx.close()
