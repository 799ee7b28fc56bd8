"""What the non-extractable WebCrypto key protects against, and what it does not.

Proven here, in Chromium:
- the key is stored as a non-extractable CryptoKey: no script can export its bytes;
- the sealed record taken out of the browser without the profile (a script that reads
  IndexedDB, a copied value) does not open elsewhere even with the right passphrase;
- but a copy of the WHOLE profile directory opens with the passphrase alone: Chromium
  keeps the key's bytes in the profile's own files, so against someone with the disk the
  passphrase is the only protection (ADR 0030 and docs/THREAT_MODEL.md say so).

And the inner seal is the CLI's format: the CLI's own reader opens it.
"""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Playwright

from medcrypt.companion.keystore import normalised
from medcrypt.crypto.endpoint.keystore import (
    MEMLIMIT_MIN,
    OPSLIMIT_MIN,
    Argon2Profile,
    KeystoreKey,
)
from tests.support import web_keystore as rig
from tests.support.web_keystore import PASS, code, ok

FAST = Argon2Profile(OPSLIMIT_MIN, MEMLIMIT_MIN)  # libsodium's minimum: a test, not a user


def test_key_is_non_extractable(pw: Playwright, page_url: str, tmp_path: Path) -> None:
    ctx = rig.launch(pw, tmp_path / "profile")
    page = rig.open_page(ctx, page_url)
    ok(page, "create", PASS)
    facts = ok(page, "deviceKeyFacts")
    assert facts == {"extractable": False, "algorithm": "AES-GCM", "exported": False}
    raw = rig.b64d(ok(page, "rawRecord"))
    assert raw[:5] == b"MCKW\x01"
    ctx.close()


def test_sealed_record_without_this_browser_does_not_open(
        pw: Playwright, page_url: str, tmp_path: Path) -> None:
    ctx = rig.launch(pw, tmp_path / "victim")
    page = rig.open_page(ctx, page_url)
    ok(page, "create", PASS)
    ok(page, "addPairing", "ee" * 16)
    stolen = ok(page, "rawRecord")
    ctx.close()

    ctx = rig.launch(pw, tmp_path / "attacker")
    page = rig.open_page(ctx, page_url)
    ok(page, "plantRecord", stolen)  # the value alone, no device key
    assert code(page, "unlock", PASS) == "keystore_device_key_missing"
    ok(page, "create", "shadow orange river cabin valley", True, True)  # its own device key
    ok(page, "lock")
    ok(page, "plantRecord", stolen)
    assert code(page, "unlock", PASS) == "keystore_device_key_mismatch"
    ctx.close()


def test_copied_profile_directory_opens_with_the_passphrase_alone(
        pw: Playwright, page_url: str, tmp_path: Path) -> None:
    ctx = rig.launch(pw, tmp_path / "victim")
    page = rig.open_page(ctx, page_url)
    ok(page, "create", PASS)
    ok(page, "addPairing", "ee" * 16)
    ctx.close()
    rig.copy_profile(tmp_path / "victim", tmp_path / "copy")

    ctx = rig.launch(pw, tmp_path / "copy")
    page = rig.open_page(ctx, page_url)
    assert code(page, "unlock", "not the passphrase at all") == "keystore_wrong_passphrase"
    ok(page, "unlock", PASS)  # Chromium: the device key came along with the files
    assert "ee" * 16 in ok(page, "doc")["pairings"]
    ctx.close()


def test_inner_seal_is_the_cli_keystore_format(pw: Playwright, page_url: str,
                                               tmp_path: Path) -> None:
    ctx = rig.launch(pw, tmp_path / "profile")
    page = rig.open_page(ctx, page_url)
    ok(page, "create", PASS)
    ok(page, "addPairing", "ab" * 16)
    inner = rig.b64d(ok(page, "innerBlob"))
    assert inner[:5] == b"MCKS\x01"
    assert (len(inner) - 53 - 16) % 4096 == 0
    key, padded = KeystoreKey.unlock(PASS, inner)  # the CLI's own reader
    key.wipe()
    doc = json.loads(padded)
    assert doc["format"] == "medcrypt-web/1"
    text = padded.rstrip(b" ")
    # Byte for byte the CLI's document encoding (PROTOCOL 15).
    assert text == json.dumps(doc, sort_keys=True, separators=(",", ":"),
                              ensure_ascii=True).encode()

    # And the web reads what the CLI's writer seals, NFC passphrase rule included: the
    # CLI derives from the NFC form, the web user types "e" + U+0301.
    cli_doc = b'{"format":"medcrypt-companion/1","note":"caf\\u00e9"}'
    with KeystoreKey.new(normalised("cafe\u0301 lantern orbit"), profile=FAST) as cli_key:
        blob = cli_key.seal(cli_doc)
    assert ok(page, "openInner", rig.b64e(blob), "cafe\u0301 lantern orbit") == cli_doc.decode()
    ctx.close()
