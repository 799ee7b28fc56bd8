"""Local history keeps plaintext no longer than the keys, and only when the user chose it.

Attacks (issue 12, item 9): after a month was shredded - its keys gone, its tokens
unreadable everywhere - ``history list`` still printed that month's plaintext to whoever
unlocks the keystore (the thief of a phone with a weak passphrase, a later user of a
shared computer).
"""

from __future__ import annotations

import json

from medcrypt.companion.keystore import Keystore
from tests.companion.conftest import PASSPHRASE, Cli, Pair

DEC_2 = "2026-12-02T09:00:00+00:00"
#: November's grace window (7 days) ends on 2026-12-08: it is shredded after that.
DEC_9 = "2026-12-09T09:00:00+00:00"


def _listed(cli: Cli, home: object, now: str) -> str:
    return cli.ok(home, "history", "list", "--json", now=now).out  # type: ignore[arg-type]


def test_history_of_a_shredded_month_is_deleted(cli: Cli, pair: Pair) -> None:
    nov = cli.ok(pair.pat, "encrypt", stdin="November: HbA1c 7.9").out
    cli.ok(pair.doc, "decrypt", stdin=nov)
    src = cli.tmp / "november-labs.pdf"
    src.write_bytes(b"%PDF")
    manifest = cli.ok(pair.doc, "send-file", str(src), "--out", "n.mcf").out
    cli.ok(pair.pat, "decrypt", stdin=manifest)
    dec = cli.ok(pair.pat, "encrypt", stdin="December: HbA1c 7.1", now=DEC_2).out
    cli.ok(pair.doc, "decrypt", stdin=dec, now=DEC_2)
    for home in (pair.doc, pair.pat):
        listed = _listed(cli, home, DEC_2)
        assert "November" in listed and "november-labs" in listed and "December" in listed

    done = cli.ok(pair.doc, "shred", now=DEC_9).out
    for home in (pair.doc, pair.pat):
        listed = _listed(cli, home, DEC_9)
        assert "November" not in listed and "november-labs" not in listed
        assert "December: HbA1c 7.1" in listed
        with Keystore.unlock(home, PASSPHRASE) as store:
            document = json.dumps(store.state)
        assert "November" not in document and "november-labs" not in document
    assert "Shredded 2026-11" in done and "deleted 2 history entries of 2026-11" in done
