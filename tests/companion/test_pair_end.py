"""``medcrypt pair end``: the member's half of a ``/shred`` - every key of the pairing goes.

After the clinic shreds a pairing (a lost phone), the relay refuses its tokens; but a
companion that keeps the pairing keeps this month's chain keys and, through them, every
later month's. ``pair end`` deletes all of it on the device and rewrites the keystore,
after asking (as ``history clear`` does).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from medcrypt.companion.keystore import FILE_NAME, Keystore
from medcrypt.crypto import _primitives as prim
from tests.support.companion import PASSPHRASE, T0, Cli, Pair, key_like_strings, make_pair
from tests.support.terminal import pty_run

QUESTION = b"End it?"


def _document(home: Path) -> dict[str, Any]:
    with Keystore.unlock(home, PASSPHRASE) as store:
        return json.loads(json.dumps(store.state))  # type: ignore[no-any-return]


def _escrowed_pair(cli: Cli) -> Pair:
    return make_pair(cli, escrow_key=base64.b64encode(
        prim.x25519_public(os.urandom(32))).decode())


def test_pair_end_deletes_every_key_of_the_pairing(cli: Cli) -> None:
    pair = _escrowed_pair(cli)
    opened = cli.ok(pair.pat, "encrypt", stdin="My blood sugar was 9.1 this morning.").out
    cli.ok(pair.doc, "decrypt", stdin=opened)
    lab = cli.tmp / "labs.pdf"
    lab.write_bytes(b"%PDF labs")
    cli.ok(pair.pat, "decrypt", stdin=cli.ok(pair.doc, "send-file", str(lab),
                                                    "--out", "labs.mcf").out)
    unopened = cli.ok(pair.doc, "encrypt", stdin="Lower the dose to 10 units.").out
    before = _document(pair.pat)
    record = before["pairings"][pair.pairing_id]
    keys = key_like_strings(record)
    assert len(keys) >= 3 and record["deposits"] and before["received_files"]
    assert before["history"]
    file_before = (pair.pat / FILE_NAME).read_bytes()

    done = cli.ok(pair.pat, "pair", "end", "--pairing", pair.pairing_id[:8], "--yes")
    assert f"Ended pairing {pair.pairing_id} on this device" in done.out
    assert "escrow deposits: 1; received file keys: 1; history entries: 2." in done.out
    assert "pair anew" in done.out

    after = _document(pair.pat)
    assert after["pairings"] == {} and after["received_files"] == {}
    assert after["history"] == []
    assert list(after["ended"]) == [pair.pairing_id]  # id and time only
    text = json.dumps(after)
    assert not [k for k in keys if k in text]  # not one key of the pairing is left
    assert (pair.pat / FILE_NAME).read_bytes() != file_before  # the file was rewritten
    assert not list(pair.pat.glob(f".{FILE_NAME}.*.tmp"))
    assert (pair.pat / FILE_NAME).stat().st_mode & 0o077 == 0

    # What the device can no longer do, and how it says so.
    refused = cli(pair.pat, "decrypt", stdin=unopened)
    assert refused.code == 4 and "ended on this device" in refused.err, refused.err
    assert "Lower the dose" not in refused.out + refused.err
    again = cli(pair.pat, "pair", "end", "--pairing", pair.pairing_id[:8], "--yes")
    assert again.code == 4 and "ended on this device" in again.err
    assert cli.ok(pair.pat, "status", "--json").json()["pairings"] == []
    # The physician's side is untouched until they end it too.
    assert _document(pair.doc)["pairings"][pair.pairing_id]["session"]


def test_pair_end_asks_first(cli: Cli, pair: Pair) -> None:
    kept = _document(pair.doc)["pairings"]
    refused = cli(pair.doc, "pair", "end", "--pairing", pair.pairing_id)  # no terminal
    assert refused.code == 2 and "--yes" in refused.err
    assert _document(pair.doc)["pairings"] == kept
    env = {**os.environ, "MEDCRYPT_PASSPHRASE": PASSPHRASE, "MEDCRYPT_NOW": T0}
    argv = ["--home", str(pair.doc), "pair", "end", "--pairing", pair.pairing_id[:6]]
    code, seen = pty_run(argv, b"n", env, QUESTION)
    assert code == 0 and b"Nothing changed" in seen, seen
    assert b"End pairing " + pair.pairing_id[:6].encode() in seen
    assert _document(pair.doc)["pairings"] == kept
    code, seen = pty_run(argv, b"y", env, QUESTION)
    assert code == 0 and b"Ended pairing" in seen, seen
    assert _document(pair.doc)["pairings"] == {}
