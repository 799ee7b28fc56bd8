"""The companion's inputs follow PROTOCOL §1 and §15, through the real CLI.

* Passphrases are Unicode NFC before Argon2id: "café" typed on a keyboard that
  composes (U+00E9) and on one that decomposes (e + U+0301, macOS file names, some
  Android IMEs) is one passphrase. A keystore sealed before under a non-NFC form still
  opens with it and is re-sealed under the NFC form at that unlock.
* A key given as base64 on the command line follows the spec's base64 rules: standard
  alphabet, padding optional, canonical (one text per key).
"""

from __future__ import annotations

import base64
import json
import unicodedata

from medcrypt.companion.keystore import FILE_NAME
from medcrypt.crypto.endpoint.keystore import KeystoreKey
from tests.support.companion import PASSPHRASE as COMPOSED_TEST_PASSPHRASE
from tests.support.companion import Cli

COMPOSED = "caf\u00e9 con le\u00f1a, sin az\u00facar 42"
DECOMPOSED = unicodedata.normalize("NFD", COMPOSED)
ESCROW = bytes(range(1, 33))


def test_passphrase_typed_decomposed_opens_a_keystore_made_composed(cli: Cli) -> None:
    assert COMPOSED != DECOMPOSED
    home = cli.tmp / "pat"
    cli.ok(home, "init", "--role", "patient", passphrase=COMPOSED)
    assert cli(home, "status", passphrase=DECOMPOSED).code == 0
    other = cli.tmp / "doc"
    cli.ok(other, "init", "--role", "patient", passphrase=DECOMPOSED)
    assert cli(other, "status", passphrase=COMPOSED).code == 0


def test_a_keystore_sealed_under_a_non_nfc_passphrase_opens_and_is_resealed_nfc(
        cli: Cli) -> None:
    home = cli.tmp / "old"
    cli.ok(home, "init", "--role", "patient", passphrase=COMPOSED)
    path = home / FILE_NAME
    # What a companion before NFC wrote for a user whose keyboard decomposes: the same
    # document sealed under the raw (NFD) bytes of the passphrase.
    with KeystoreKey.unlock(COMPOSED, path.read_bytes())[0] as nfc_key:
        document = nfc_key.open(path.read_bytes())
    with KeystoreKey.new(DECOMPOSED) as raw_key:
        path.write_bytes(raw_key.seal(document))
    assert cli(home, "status", passphrase=DECOMPOSED).code == 0
    resealed = path.read_bytes()
    key, padded = KeystoreKey.unlock(COMPOSED, resealed)  # the NFC bytes open it now
    key.wipe()
    assert json.loads(padded)["role"] == "patient"
    assert cli(home, "status", passphrase=COMPOSED).code == 0


def _escrow_ok(cli: Cli, text: str) -> int:
    home = cli.tmp / f"doc{abs(hash(text))}"
    return cli(home, "init", "--role", "physician", "--escrow-key", text).code


def test_escrow_key_base64_is_canonical_and_padding_is_optional(cli: Cli) -> None:
    padded = base64.b64encode(ESCROW).decode()
    assert padded.endswith("=")
    assert _escrow_ok(cli, padded) == 0
    assert _escrow_ok(cli, f"  {padded}\n") == 0
    assert _escrow_ok(cli, padded.rstrip("=")) == 0  # padding optional, as in tokens
    # The last character carries 2 unused bits; setting them gives another text for the
    # same key, which a canonical decoder refuses.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = padded[-2]
    loose = padded[:-2] + alphabet[alphabet.index(last) | 1] + "="
    assert base64.b64decode(loose) == ESCROW
    assert _escrow_ok(cli, loose) == 2
    assert _escrow_ok(cli, padded.rstrip("=") + "==") == 2  # wrong padding
    urlsafe = base64.urlsafe_b64encode(bytes([0xFB] * 32)).decode()
    assert "-" in urlsafe or "_" in urlsafe
    assert _escrow_ok(cli, urlsafe) == 2


def test_keystore_document_is_encoded_as_section_15_says(cli: Cli) -> None:
    """Sorted keys, no whitespace, ASCII only: \\u escapes in lowercase hex, surrogate
    pairs above U+FFFF, '/' unescaped - the bytes a second implementation must write."""
    home = cli.tmp / "doc"
    contact = "cl\u00ednica/\U0001fa7a \"bot\""
    cli.ok(home, "init", "--role", "physician", "--bot-contact", contact)
    blob = (home / FILE_NAME).read_bytes()
    key, padded = KeystoreKey.unlock(COMPOSED_TEST_PASSPHRASE, blob)
    key.wipe()
    document = padded.rstrip(b" ")
    assert document.isascii()
    assert b'"bot_contact":"cl\\u00ednica/\\ud83e\\ude7a \\"bot\\""' in document
    keys = list(json.loads(document))
    assert keys == sorted(keys) and document.startswith(b'{"bot_contact":')
    assert document == json.dumps(json.loads(document), sort_keys=True,
                                  separators=(",", ":")).encode("ascii")
