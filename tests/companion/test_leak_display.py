"""A peer's control characters are shown, never obeyed, in what the companion prints.

Attack (issue 12, item 9): a physician's (or a stolen account's) message carrying ANSI
and OSC sequences retitled the terminal, erased the line it was on and printed a
different dose over it, or hid words, in ``decrypt`` and ``history list`` output.
"""

from __future__ import annotations

import json

import pytest

from tests.support.companion import Cli, Pair
from tests.support.v1_reference import v1_encrypt, v1_key

#: Set the window title; erase the line and return to column 0 to overprint it; hide
#: text (SGR 8 "conceal"); a C1 CSI; DEL; a right-to-left override; a NUL.
HOSTILE = ("Take 5 mg twice a day\x1b]0;MedCrypt - verified\x07\x1b[2K\r"
           "Take 50 mg\x1b[8m (ignore the previous line)\x1b[0m\n"
           "\tfile: \u202egnp.exe \x9b31m red \x7f\x00end")
SHOWN = ("Take 5 mg twice a day\\x1b]0;MedCrypt - verified\\x07\\x1b[2K\\x0d"
         "Take 50 mg\\x1b[8m (ignore the previous line)\\x1b[0m\n"
         "\tfile: \\u202egnp.exe \\x9b31m red \\x7f\\x00end")
#: Everything a terminal acts on, except the line feed and tab kept for layout.
ACTIVE = {chr(c) for c in (*range(0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F),
                           *range(0x2066, 0x206A))} - {"\n", "\t"}


def test_escape_sequences_in_a_message_are_escaped_in_decrypt_output(cli: Cli,
                                                                      pair: Pair) -> None:
    token = cli.ok(pair.doc, "encrypt", stdin=HOSTILE).out
    shown = cli.ok(pair.pat, "decrypt", stdin=token).out
    assert not ACTIVE & set(shown)
    assert shown == SHOWN


def test_escape_sequences_are_escaped_in_history_list(cli: Cli, pair: Pair) -> None:
    token = cli.ok(pair.doc, "encrypt", stdin=HOSTILE).out
    cli.ok(pair.pat, "decrypt", stdin=token)
    listed = cli.ok(pair.pat, "history", "list").out
    assert not ACTIVE & (set(listed) - {"\n"})
    assert SHOWN in listed
    # the sender's own copy is escaped too: it is the same text on the same terminal
    assert SHOWN in cli.ok(pair.doc, "history", "list").out


def test_json_output_stays_exact(cli: Cli, pair: Pair) -> None:
    token = cli.ok(pair.doc, "encrypt", stdin=HOSTILE).out
    opened = cli.ok(pair.pat, "decrypt", "--json", stdin=token).out
    assert not ACTIVE & set(opened)  # json escapes them itself
    assert json.loads(opened)["text"] == HOSTILE
    entries = [json.loads(line) for line in cli.ok(pair.pat, "history", "list", "--json")
               .out.splitlines()]
    assert [e["text"] for e in entries] == [HOSTILE]


def test_v1_migration_output_is_escaped_too(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "clinic shared secret"
    token = v1_encrypt(HOSTILE.encode(), b"patient-17", secret, "2025-03",
                       key=v1_key(secret, "2025-03"))
    monkeypatch.setenv("OLD_SECRET", secret)
    out = cli.ok(cli.tmp, "v1", "decrypt", "--secret-env", "OLD_SECRET", "--month", "2025-03",
                 stdin=token).out
    assert out == SHOWN


def test_a_carriage_return_that_ends_a_line_is_kept(cli: Cli, pair: Pair) -> None:
    """Text typed on Windows ends lines with CR LF: nothing can be overprinted there."""
    token = cli.ok(pair.doc, "encrypt", stdin="Fasting from 22:00\r\nno water\rWATER OK\r").out
    assert cli.ok(pair.pat, "decrypt", stdin=token).out == \
        "Fasting from 22:00\r\nno water\\x0dWATER OK\\x0d"
