"""Local history keeps plaintext no longer than the keys, and only when the user chose it.

Attacks (issue 12, item 9): after a month was shredded - its keys gone, its tokens
unreadable everywhere - ``history list`` still printed that month's plaintext to whoever
unlocks the keystore (the thief of a phone with a weak passphrase, a later user of a
shared computer). History was also kept for everyone who did not say otherwise on every
command, and ``history clear`` erased it all without asking.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from medcrypt.companion.keystore import Keystore
from tests.support.companion import PASSPHRASE, T0, Cli, Pair
from tests.support.terminal import pty_run

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


# ---------------------------------------------------------------------- opt-in per pairing
# Attack: history was kept for every pairing unless each single command said
# --no-history, so the plaintext of every message piled up in the keystore of users who
# never asked for a copy.

QUESTION = b"Keep a copy of this pairing's messages on this device?"


def _pair_by_hand(cli: Cli, accept: list[str], complete: list[str]) -> tuple[Path, Path]:
    doc, pat = cli.tmp / "doc", cli.tmp / "pat"
    cli.ok(doc, "init", "--role", "physician")
    cli.ok(pat, "init", "--role", "patient")
    offer = cli.ok(doc, "pair", "offer", "--protocol", "2", "--no-terminal", "--json").json()
    accepted = cli.ok(pat, "pair", "accept", "--offer", str(offer["offer_text"]), "--json",
                      *accept).json()
    cli.ok(doc, "pair", "complete", str(accepted["accept_token"]), *complete)
    return doc, pat


def _talk(cli: Cli, doc: Path, pat: Path) -> None:
    cli.ok(doc, "decrypt", stdin=cli.ok(pat, "encrypt", stdin="from the patient").out)
    cli.ok(pat, "decrypt", stdin=cli.ok(doc, "encrypt", stdin="from the doctor").out)


def _history_flags(cli: Cli, home: Path) -> list[bool]:
    return [p["history"] for p in cli.ok(home, "status", "--json").json()["pairings"]]


def test_history_is_off_unless_chosen_at_pairing(cli: Cli) -> None:
    doc, pat = _pair_by_hand(cli, [], [])
    _talk(cli, doc, pat)
    for home in (doc, pat):
        assert cli.ok(home, "history", "list").out == ""
        assert _history_flags(cli, home) == [False]
        with Keystore.unlock(home, PASSPHRASE) as store:
            assert "from the" not in json.dumps(store.state)


def test_each_side_chooses_with_a_flag(cli: Cli) -> None:
    doc, pat = _pair_by_hand(cli, ["--history"], ["--no-history"])
    _talk(cli, doc, pat)
    assert _history_flags(cli, pat) == [True] and _history_flags(cli, doc) == [False]
    assert "from the doctor" in cli.ok(pat, "history", "list").out
    assert "from the patient" in cli.ok(pat, "history", "list").out  # its own sent copy
    assert cli.ok(doc, "history", "list").out == ""
    # the choice can be changed later, per pairing
    cli.ok(doc, "history", "on")
    _talk(cli, doc, pat)
    assert "from the patient" in cli.ok(doc, "history", "list").out
    off = cli.ok(pat, "history", "off").out
    assert "history clear" in off  # what was kept stays until cleared, and it says so
    before = cli.ok(pat, "history", "list", "--json").out
    _talk(cli, doc, pat)
    assert cli.ok(pat, "history", "list", "--json").out == before


def test_pairing_asks_once_on_a_terminal(cli: Cli, tmp_path: Path) -> None:
    doc, pat = tmp_path / "doc", tmp_path / "pat"
    cli.ok(doc, "init", "--role", "physician")
    cli.ok(pat, "init", "--role", "patient")
    offer = cli.ok(doc, "pair", "offer", "--protocol", "2", "--no-terminal", "--json").json()
    env = {**os.environ, "MEDCRYPT_PASSPHRASE": PASSPHRASE, "MEDCRYPT_NOW": T0}
    code, seen = pty_run(["--home", str(pat), "pair", "accept", "--offer",
                          str(offer["offer_text"]), "--json"], b"y", env, QUESTION)
    assert code == 0, seen
    assert seen.count(QUESTION) == 1 and b"read only once" in seen
    token = next(t for t in seen.decode().split('"') if t.startswith("[MEDCRYPT:v2:"))
    code, seen = pty_run(["--home", str(doc), "pair", "complete", token], b"", env, QUESTION)
    assert code == 0 and seen.count(QUESTION) == 1, seen
    assert _history_flags(cli, pat) == [True]
    assert _history_flags(cli, doc) == [False]  # Enter alone answers no


# ---------------------------------------------------------------------- clearing
# Attack (of an accident, not a person): 'history clear' deleted every kept message at
# once, for every pairing, without asking.

def test_history_clear_asks_first(cli: Cli, tmp_path: Path) -> None:
    doc, pat = _pair_by_hand(cli, ["--history"], ["--history"])
    _talk(cli, doc, pat)
    kept = cli.ok(pat, "history", "list").out
    refused = cli(pat, "history", "clear")  # no terminal here: it cannot ask
    assert refused.code == 2 and "--yes" in refused.err
    assert cli.ok(pat, "history", "list").out == kept
    env = {**os.environ, "MEDCRYPT_PASSPHRASE": PASSPHRASE, "MEDCRYPT_NOW": T0}
    question = b"Delete the local history of every pairing on this device?"
    code, seen = pty_run(["--home", str(pat), "history", "clear"], b"n", env, question)
    assert code == 0 and b"Nothing removed" in seen, seen
    assert cli.ok(pat, "history", "list").out == kept
    code, seen = pty_run(["--home", str(pat), "history", "clear"], b"y", env, question)
    assert code == 0 and b"Removed 2 history entries" in seen, seen
    assert cli.ok(pat, "history", "list").out == ""
    assert cli.ok(doc, "history", "clear", "--yes").out == "Removed 2 history entries.\n"
