"""Messages through the CLI: forward secrecy, calendar catch-up, shredding, parts, errors."""

from __future__ import annotations

import base64
import json
import random
import shutil
from pathlib import Path

from medcrypt.companion.keystore import FILE_NAME, Keystore
from medcrypt.crypto.keyless.epochs import parse_month
from medcrypt.crypto.keyless.wire import Kind, find_tokens, parse_token
from tests.support.companion import PASSPHRASE, Cli, Pair, make_pair


def _flip(token: str, pos: int) -> str:
    """Alter one character of the payload into another base64 character."""
    body = list(token)
    body[pos] = "B" if body[pos] != "B" else "C"
    return "".join(body)


def test_altered_reflected_replayed_tokens_are_rejected(cli: Cli, pair: Pair) -> None:
    token = cli.ok(pair.pat, "encrypt", stdin="INR 2.4").out.strip()
    for pos in (14, 20, 40, 70, len(token) - 3):
        bad = cli(pair.doc, "decrypt", stdin=_flip(token, pos))
        assert bad.code in (3, 4) and bad.out == ""
    reflected = cli(pair.pat, "decrypt", stdin=token)
    assert reflected.code == 4 and "reflected" in reflected.err
    assert cli.ok(pair.doc, "decrypt", stdin=token).out == "INR 2.4"
    replay = cli(pair.doc, "decrypt", stdin=token)
    assert replay.code == 4 and replay.out == ""


def test_token_for_another_pairing_is_refused(cli: Cli, pair: Pair) -> None:
    other = make_pair_in(cli, "b")
    token = cli.ok(other.pat, "encrypt", stdin="x").out
    wrong = cli(pair.doc, "decrypt", stdin=token)
    assert wrong.code == 4 and "pairing" in wrong.err


def make_pair_in(cli: Cli, sub: str) -> Pair:
    base = cli.tmp / sub
    base.mkdir()
    sub_cli = Cli.__new__(Cli)
    sub_cli.__dict__.update(cli.__dict__)
    sub_cli.tmp = base
    return make_pair(sub_cli)


def test_out_of_order_and_parts_in_any_order(cli: Cli, pair: Pair) -> None:
    texts = [f"message {i}: " + "lorem ipsum " * 40 * (i + 1) for i in range(3)]
    tokens = [cli.ok(pair.pat, "encrypt", "--max-chars", "300", stdin=t).out.split()
              for t in texts]
    assert all(len(t) > 1 and all(len(p) <= 300 for p in t) for t in tokens)
    assert all(parse_token(p).header.kind is Kind.PART for p in tokens[0])
    # newest first, and within each message the parts shuffled, plus a duplicate part
    mixed = [p for t in reversed(tokens) for p in random.Random(3).sample(t, len(t))]
    mixed.append(tokens[1][0])
    out = cli.ok(pair.doc, "decrypt", stdin="chat log:\n" + "\n\n".join(mixed)).out
    assert out == "".join(t + "\n" for t in texts)


def test_missing_part_is_reported(cli: Cli, pair: Pair) -> None:
    parts = cli.ok(pair.pat, "encrypt", "--max-chars", "200", stdin="y" * 900).out.split()
    res = cli(pair.doc, "decrypt", stdin="\n".join(parts[1:]))
    assert res.code == 3 and "missing parts" in res.err


def test_forward_secrecy_copy_of_keystore_cannot_reopen(cli: Cli, pair: Pair) -> None:
    token = cli.ok(pair.pat, "encrypt", stdin="Biopsy: benign").out
    before = cli.tmp / "copy-before"
    shutil.copytree(pair.doc, before)
    assert cli.ok(pair.doc, "decrypt", stdin=token).out == "Biopsy: benign"
    after = cli.tmp / "copy-after"
    shutil.copytree(pair.doc, after)
    again = cli(after, "decrypt", stdin=token)
    assert again.code == 4 and again.out == ""
    # only the local history still has it ... until cleared
    history = cli.ok(after, "history", "list", "--json").out
    assert "Biopsy: benign" in history
    cli.ok(pair.doc, "history", "clear", "--yes")
    assert cli.ok(pair.doc, "history", "list").out == ""
    # the copy taken before opening still opens it: the test above is not vacuous
    assert cli.ok(before, "decrypt", stdin=token).out == "Biopsy: benign"


def test_no_history_flag_keeps_nothing(cli: Cli, pair: Pair) -> None:
    token = cli.ok(pair.pat, "encrypt", "--no-history", stdin="private").out
    cli.ok(pair.doc, "decrypt", "--no-history", stdin=token)
    assert "private" not in cli.ok(pair.doc, "history", "list").out
    assert "private" not in cli.ok(pair.pat, "history", "list").out


def test_offline_three_months_catches_up(cli: Cli, pair: Pair) -> None:
    feb = "2027-02-10T08:00:00+00:00"
    token = cli.ok(pair.doc, "encrypt", stdin="Your results from February", now=feb).out
    assert parse_token(token.strip()).header.epoch == (2027 - 1970) * 12 + 1
    # the patient's companion was last used in November 2026
    assert cli.ok(pair.pat, "decrypt", stdin=token, now=feb).out == "Your results from February"
    status = cli.ok(pair.pat, "status", "--json", now=feb).json()
    (p,) = status["pairings"]  # type: ignore[misc]
    assert list(p["live_epochs"]) == ["2027-02"]
    assert list(p["shredded_epochs"]) == ["2026-11", "2026-12", "2027-01"]
    reply = cli.ok(pair.pat, "encrypt", stdin="Thanks", now=feb).out
    assert cli.ok(pair.doc, "decrypt", stdin=reply, now=feb).out == "Thanks"


def _epoch_secrets(home: Path, pairing_id: str, epoch: int) -> list[bytes]:
    """Every key of ``epoch`` held in the keystore document (chain and skipped keys)."""
    with Keystore.unlock(home, PASSPHRASE) as store:
        chains = store.state["pairings"][pairing_id]["session"]["epochs"][str(epoch)]
    found: list[bytes] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str) and len(node) == 44:
            raw = base64.b64decode(node)
            if len(raw) == 32:
                found.append(raw)

    walk(chains)
    return found


def test_past_grace_names_epoch_and_date_and_key_bytes_are_gone(cli: Cli, pair: Pair) -> None:
    late_nov = "2026-11-28T12:00:00+00:00"
    token = cli.ok(pair.doc, "encrypt", stdin="old news", now=late_nov).out
    skipped = cli.ok(pair.doc, "encrypt", stdin="second", now=late_nov).out
    # the patient opens only the second one, so the first sits in the skipped-key store
    assert cli.ok(pair.pat, "decrypt", stdin=skipped, now=late_nov).out == "second"
    doomed = _epoch_secrets(pair.pat, pair.pairing_id, parse_month("2026-11"))
    assert len(doomed) >= 3  # send chain, receive chain, one skipped message key
    within = cli(pair.pat, "status", "--json", now="2026-12-07T23:59:00+00:00")
    assert "2026-11" in within.json()["pairings"][0]["live_epochs"]  # type: ignore[index]

    refused = cli(pair.pat, "decrypt", stdin=token, now="2026-12-08T00:00:01+00:00")
    assert refused.code == 4
    assert "2026-11" in refused.err and "2026-12-08" in refused.err
    assert refused.err.count("\n") == 1 and refused.out == ""

    raw = (pair.pat / FILE_NAME).read_bytes()
    with Keystore.unlock(pair.pat, PASSPHRASE) as store:
        document = json.dumps(store.state).encode()
    for key in doomed:
        for form in (key, base64.b64encode(key), key.hex().encode()):
            assert form not in raw
            assert form not in document
    for leftover in pair.pat.iterdir():
        assert all(key not in leftover.read_bytes() for key in doomed)


def test_shred_command_reports(cli: Cli, pair: Pair) -> None:
    out = cli.ok(pair.pat, "shred", now="2026-12-08T00:00:01+00:00").out
    assert "Shredded 2026-11" in out
    assert "Nothing to shred" in cli.ok(pair.pat, "shred", now="2026-12-08T00:00:02+00:00").out


def test_escrow_deposit_is_printed_first_once_per_epoch(cli: Cli) -> None:
    escrow_pub = base64.b64encode(bytes(range(32, 64))).decode()
    p = make_pair(cli, escrow_key=escrow_pub)
    first = cli.ok(p.doc, "encrypt", stdin="hello").out.split()
    assert [parse_token(t).header.kind for t in first] == [Kind.ESCROW_DEPOSIT, Kind.MESSAGE]
    second = cli.ok(p.doc, "encrypt", stdin="again").out.split()
    assert [parse_token(t).header.kind for t in second] == [Kind.MESSAGE]
    # the patient's side deposits for its own direction with its first message, too
    from_pat = cli.ok(p.pat, "encrypt", stdin="hi").out.split()
    assert parse_token(from_pat[0]).header.kind is Kind.ESCROW_DEPOSIT
    # pasting the deposit along with messages is harmless: it is skipped
    res = cli.ok(p.pat, "decrypt", stdin="\n".join(first))
    assert res.out == "hello" and "escrow_deposit" in res.err
    # recorded for re-sending while its epoch lives, forgotten once the epoch is shredded
    assert cli.ok(p.doc, "deposits").out.split() == [first[0]]
    assert cli.ok(p.doc, "deposits", now="2026-12-08T00:00:01+00:00").out == ""


def test_errors_are_one_line_with_documented_codes(cli: Cli, pair: Pair) -> None:
    wrong = cli(pair.doc, "status", passphrase="nope")
    assert wrong.code == 6 and wrong.err.count("\n") == 1 and wrong.out == ""
    missing = cli(cli.tmp / "nowhere", "status")
    assert missing.code == 6 and "medcrypt init" in missing.err
    usage = cli(pair.doc, "encrypt", "--bogus")
    assert usage.code == 2 and usage.err.count("\n") == 1
    garbage = cli(pair.doc, "decrypt", stdin="no tokens here")
    assert garbage.code == 3
    assert cli(pair.doc, "init", "--role", "physician").code == 2
    ambiguous = cli(pair.doc, "encrypt", "--pairing", "zzzz", stdin="x")
    assert ambiguous.code == 2 and ambiguous.out == ""


def test_nothing_written_on_failure(cli: Cli, pair: Pair) -> None:
    good = cli.ok(pair.pat, "encrypt", stdin="one").out
    second = cli.ok(pair.pat, "encrypt", stdin="two").out.strip()
    bad = _flip(second, len(second) - 5)
    before = cli.ok(pair.doc, "history", "list", "--json").out
    res = cli(pair.doc, "decrypt", stdin=good + "\n" + bad)
    assert res.code == 3 and res.out == ""
    assert cli.ok(pair.doc, "history", "list", "--json").out == before
    # the good token's key was not consumed by the failed batch
    assert cli.ok(pair.doc, "decrypt", stdin=good).out == "one"


def test_help_lists_commands(cli: Cli) -> None:
    res = cli(cli.tmp, "--help")
    assert res.code == 0
    for command in ("init", "pair", "encrypt", "decrypt", "send-file", "open-file", "status",
                    "safety-number", "history", "shred", "v1"):
        assert command in res.out


def test_tokens_survive_chat_formatting(cli: Cli, pair: Pair) -> None:
    token = cli.ok(pair.pat, "encrypt", stdin="*bold* _it_ ~x~ `c`").out.strip()
    assert not set("_*~`") & set(token[len("[MEDCRYPT:v2:"):-1])
    wrapped = f"> forwarded:\n{token}\nsent from my phone"
    assert find_tokens(wrapped) == [token]
    assert cli.ok(pair.doc, "decrypt", stdin=wrapped).out == "*bold* _it_ ~x~ `c`"
