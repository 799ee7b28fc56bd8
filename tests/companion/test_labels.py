"""Tags and labels in the companion (issue 16): ``pair label``, ``pair list``, ``status``
and "From Sam Rivera (K7Q-2MX)" on ``decrypt``, for v2 and v3 pairings alike.

The label is personal data (a patient's name): it must stay in the sealed keystore -
not in a token, not in the keystore file's bytes in clear, not in an error.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcrypt.companion.names import check_label
from medcrypt.crypto.errors import ConfigError
from medcrypt.crypto.keyless.tags import tag_of_hex
from tests.support.companion import Cli, make_pair, make_v3_pair

NAME = "Sam Rivera"


def _pairs(cli: Cli, protocol: int) -> tuple[Path, Path, str]:
    if protocol == 2:
        p2 = make_pair(cli)
        return p2.doc, p2.pat, p2.pairing_id
    p3 = make_v3_pair(cli)
    return p3.doc, p3.pat, p3.pairing_id


@pytest.mark.parametrize("protocol", [2, 3])
def test_label_by_tag_shows_in_decrypt_list_and_status(cli: Cli, protocol: int) -> None:
    doc, pat, pairing_id = _pairs(cli, protocol)
    tag = tag_of_hex(pairing_id)
    token = cli.ok(pat, "encrypt", stdin="My knee still hurts.").out
    # Before a label: the tag alone.
    first = cli.ok(doc, "decrypt", "--no-history", stdin=token)
    assert first.out == "My knee still hurts."
    assert first.err.strip() == f"From {tag}:"
    done = cli.ok(doc, "pair", "label", tag.lower(), NAME)
    assert f"Pairing {tag} is shown as: {NAME} ({tag})" in done.out
    token = cli.ok(pat, "encrypt", stdin="And the swelling is back.").out
    opened = cli.ok(doc, "decrypt", stdin=token)
    assert opened.out == "And the swelling is back."
    assert opened.err.strip() == f"From {NAME} ({tag}):"
    token = cli.ok(pat, "encrypt", stdin="Thanks.").out
    entry = json.loads(cli.ok(doc, "decrypt", "--json", stdin=token).out)
    assert (entry["tag"], entry["label"], entry["text"]) == (tag, NAME, "Thanks.")
    listed = cli.ok(doc, "pair", "list").out
    assert listed.startswith(f"{tag}  {NAME}  v{protocol}  paired ")
    status = cli.ok(doc, "status", "--json").json()
    assert [(p["tag"], p["label"]) for p in status["pairings"]] == [(tag, NAME)]  # type: ignore[index, union-attr]
    assert f"name: {NAME} ({tag})" in cli.ok(doc, "status").out
    # The history keeps the pairing, not the label: a label changed later applies.
    cli.ok(doc, "pair", "label", pairing_id[:8], "--clear")
    assert "(no label)" in cli.ok(doc, "pair", "list").out
    assert NAME not in json.dumps(cli.ok(doc, "history", "list", "--json").out)


def test_the_label_never_leaves_the_keystore(cli: Cli) -> None:
    p3 = make_v3_pair(cli)
    cli.ok(p3.doc, "pair", "label", tag_of_hex(p3.pairing_id), NAME)
    token = cli.ok(p3.doc, "encrypt", stdin="See you Monday.").out
    assert NAME not in token
    for path in p3.doc.rglob("*"):
        if path.is_file():
            assert NAME.encode() not in path.read_bytes(), path
            assert NAME.encode("utf-16-le") not in path.read_bytes(), path
    # The patient's side never learns it either.
    assert NAME not in cli.ok(p3.pat, "status", "--json").out


@pytest.mark.parametrize("bad", ["", "   ", "x" * 65, "Sam\nRivera", "Sam\x1b[2JRivera"])
def test_a_bad_label_is_refused_without_quoting_it(cli: Cli, bad: str) -> None:
    p3 = make_v3_pair(cli)
    failed = cli(p3.doc, "pair", "label", tag_of_hex(p3.pairing_id), bad)
    assert failed.code == 2
    assert "label is one line of 1-64 printable characters" in failed.err
    assert (bad.strip() or "\x00") not in failed.err
    assert "(no label)" in cli.ok(p3.doc, "pair", "list").out


def test_a_tag_or_id_that_names_no_pairing_is_refused(cli: Cli) -> None:
    p3 = make_v3_pair(cli)
    other = tag_of_hex("00" * 16)
    failed = cli(p3.doc, "pair", "label", other, NAME)
    assert failed.code == 2 and "matches no pairing" in failed.err
    assert cli(p3.doc, "pair", "label", tag_of_hex(p3.pairing_id)).code == 2  # no label


def test_pair_end_takes_the_tag_the_bot_names(cli: Cli) -> None:
    p3 = make_v3_pair(cli)
    ended = cli.ok(p3.doc, "pair", "end", "--pairing", tag_of_hex(p3.pairing_id), "--yes")
    assert f"Ended pairing {p3.pairing_id}" in ended.out
    assert "No pairings yet." in cli.ok(p3.doc, "pair", "list").out


@given(st.text(max_size=80))
def test_check_label_takes_a_clean_line_or_refuses_without_quoting(text: str) -> None:
    try:
        label = check_label(text)
    except ConfigError as refused:
        assert refused.key == "LABEL"
        assert not text.strip() or text.strip() not in str(refused)
        return
    assert label == text.strip() and 1 <= len(label) <= 64 and label.isprintable()

