"""Decrypting a message already opened says so, and says how to read it again.

Issue 12, item 9: a patient who pasted a message a second time got "message 0 was
already opened or is too old" and no way forward - the key is gone by design, but the
local history may hold the text.
"""

from __future__ import annotations

from tests.support.companion import Cli, Pair


def test_reopened_message_points_to_the_history(cli: Cli, pair: Pair) -> None:
    token = cli.ok(pair.doc, "encrypt", stdin="Your biopsy is benign.").out
    assert cli.ok(pair.pat, "decrypt", stdin=token).out == "Your biopsy is benign."
    again = cli(pair.pat, "decrypt", stdin=token)
    assert again.code == 4 and again.out == ""
    assert again.err == (
        "medcrypt: error: this message was already opened on this device "
        "(2026-11-23T10:00:00+00:00); a message opens only once - read it again with "
        f"'medcrypt history list --pairing {pair.pairing_id[:8]}'\n")
    assert "Your biopsy is benign." in cli.ok(pair.pat, "history", "list").out


def test_reopened_message_without_a_copy_says_it_is_gone(cli: Cli, pair: Pair) -> None:
    token = cli.ok(pair.doc, "encrypt", stdin="Call me after 5.").out
    cli.ok(pair.pat, "decrypt", "--no-history", stdin=token)
    again = cli(pair.pat, "decrypt", stdin=token)
    assert again.code == 4 and again.out == ""
    assert again.err == (
        "medcrypt: error: this message was already opened on this device, or is too old "
        "to open; a message opens only once, and no copy of it is in this device's "
        "history\n")


def test_a_batch_with_one_opened_message_shows_nothing(cli: Cli, pair: Pair) -> None:
    old = cli.ok(pair.doc, "encrypt", stdin="first").out
    cli.ok(pair.pat, "decrypt", stdin=old)
    new = cli.ok(pair.doc, "encrypt", stdin="second").out
    batch = cli(pair.pat, "decrypt", stdin=old + new)
    assert batch.code == 4 and batch.out == "" and "already opened" in batch.err
    assert cli.ok(pair.pat, "decrypt", stdin=new).out == "second"  # no key was used


def test_reopened_message_of_a_pairing_without_history(cli: Cli, pair: Pair) -> None:
    cli.ok(pair.pat, "history", "off")
    token = cli.ok(pair.doc, "encrypt", stdin="Fasting from midnight.").out
    cli.ok(pair.pat, "decrypt", stdin=token)
    again = cli(pair.pat, "decrypt", stdin=token)
    assert again.code == 4 and again.out == ""
    assert again.err.endswith("this pairing keeps no copies (history is off)\n")
