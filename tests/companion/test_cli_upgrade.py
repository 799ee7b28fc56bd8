"""``medcrypt pair upgrade`` through the real CLI (PROTOCOL §35, ADR 0027).

A v2 pairing made by the CLI upgrades in three runs; afterwards both sides write v3,
v2 tokens in flight still open until their month's grace end (then the typed error),
and no v2 next-month key or sending chain is left in either keystore. (That a copied
v2 keystore learns nothing of the v3 root is shown where it can fail: the vectors
recompute the root from the two fresh draws alone, tests/crypto/v3/test_upgrade*.py.)
"""

from __future__ import annotations

import base64
import json

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint.session import IdentityKey
from medcrypt.crypto.endpoint.v3.pinned import verify_record
from medcrypt.crypto.keyless import record_wire
from medcrypt.crypto.keyless.wire import Kind, parse_token
from tests.support.companion import Cli, make_pair
from tests.support.v3cli import document

#: Grace end of 2026-11 with the default 7 days is 2026-12-08.
AFTER_NOV_GRACE = "2026-12-09T10:00:00+00:00"


def _upgrade(cli: Cli, doc: object, pat: object) -> dict[str, object]:
    offer = cli.ok(doc, "pair", "upgrade", "--json").json()
    answer = cli.ok(pat, "pair", "upgrade", str(offer["upgrade_token"]), "--json").json()
    assert str(answer["answer_token"]).startswith("[MEDCRYPT:v3:")
    done = cli.ok(doc, "pair", "upgrade", str(answer["answer_token"]), "--json").json()
    assert done["protocol"] == answer["protocol"] == 3
    return {"offer": offer, "answer": answer, "done": done}


def test_a_v2_pairing_upgrades_and_keeps_talking(cli: Cli) -> None:
    pair = make_pair(cli)
    in_flight = [cli.ok(pair.doc, "encrypt", stdin=f"v2 in flight {n}").out for n in (1, 2)]
    assert all(t.startswith("[MEDCRYPT:v2:") for t in in_flight)
    _upgrade(cli, pair.doc, pair.pat)

    hello = cli.ok(pair.pat, "encrypt", stdin="hello in v3").out
    assert hello.startswith("[MEDCRYPT:v3:")
    assert cli.ok(pair.doc, "decrypt", stdin=hello).out == "hello in v3"
    reply = cli.ok(pair.doc, "encrypt", stdin="answer in v3").out
    assert reply.startswith("[MEDCRYPT:v3:")
    assert cli.ok(pair.pat, "decrypt", stdin=reply).out == "answer in v3"
    assert cli.ok(pair.pat, "decrypt", stdin=in_flight[0]).out == "v2 in flight 1"

    for home in (pair.doc, pair.pat):
        record = document(home)["pairings"][pair.pairing_id]
        assert record["protocol"] == 3 and "upgrade" not in record
        assert "next_key" not in json.dumps(record["retired_v2"])
        assert "send" not in record["retired_v2"]

    late = cli(pair.pat, "decrypt", stdin=in_flight[1], now=AFTER_NOV_GRACE)
    assert late.code != 0 and "shredded" in late.err
    december = "2026-12-09T10:00:00+00:00"
    later = cli.ok(pair.pat, "encrypt", stdin="v3 in December", now=december).out
    assert cli.ok(pair.doc, "decrypt", stdin=later, now=december).out == "v3 in December"
    assert "retired_v2" in document(pair.pat)["pairings"][pair.pairing_id]


def test_refusals(cli: Cli) -> None:
    pair = make_pair(cli)
    refused = cli(pair.pat, "pair", "upgrade")  # the patient does not offer
    assert refused.code != 0 and "physician" in refused.err
    offer = cli.ok(pair.doc, "pair", "upgrade", "--json").json()
    wrong = cli(pair.doc, "pair", "upgrade", str(offer["upgrade_token"]))
    assert wrong.code != 0 and "patient" in wrong.err
    _upgrade(cli, pair.doc, pair.pat)
    again = cli(pair.doc, "pair", "upgrade")
    assert again.code != 0 and "already speaks v3" in again.err


def test_with_escrow_the_physician_files_the_pinned_record_of_the_v3_pairing(
        cli: Cli) -> None:
    escrow_private = bytes(range(1, 33))
    escrow_public = prim.x25519_public(escrow_private)
    pair = make_pair(cli, escrow_key=base64.b64encode(escrow_public).decode())
    done = _upgrade(cli, pair.doc, pair.pat)["done"]
    token = parse_token(str(done["record_token"]))
    assert token.header.kind is Kind.PIN_RECORD
    sealed = record_wire.parse_record_token(token.raw)
    assert sealed.pairing_id.hex() == pair.pairing_id
    record = prim.sealed_box_open(escrow_private, sealed.sealed)
    doctor = IdentityKey.import_(str(document(pair.doc)["identity"])).public
    pinned = verify_record(record, doctor)
    assert pinned.pairing_id.hex() == pair.pairing_id
    assert pinned.escrow_public == escrow_public
    assert pinned.raw == prim.b64d(str(done["pinned_record"]))
