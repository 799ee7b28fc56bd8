"""The companion splits for the pairing's chat app by default (issue 16, "Long tokens"):
a token longer than the app carries is cut by Telegram at 4096 characters or refused by
WhatsApp at 1600, and its pieces are lost as plaintext at the bot. Before this, the CLI
wrote one token of any length unless ``--max-chars`` was given."""

from __future__ import annotations

from pathlib import Path

import pytest

from medcrypt.crypto.keyless.tags import tag_of_hex
from medcrypt.crypto.keyless.wire import Kind, parse_token
from tests.support.companion import Cli, make_v3_pair

#: About 2,800 characters once sealed: more than WhatsApp carries, less than Telegram.
TEXT = "El dolor de rodilla empeora al subir escaleras. " * 42


def _lines(out: str) -> list[str]:
    return out.split()


def _parts(lines: list[str]) -> int:
    return sum(parse_token(t).header.kind is Kind.PART for t in lines)


def test_no_app_recorded_splits_for_whatsapp_and_the_peer_reads_it(cli: Cli) -> None:
    pair = make_v3_pair(cli)
    lines = _lines(cli.ok(pair.pat, "encrypt", stdin=TEXT).out)
    assert all(len(t) <= 1600 for t in lines)
    assert _parts(lines) >= 2  # without the default this was one 2,800-character token
    assert cli.ok(pair.doc, "decrypt", "--no-history", stdin="\n".join(reversed(lines))).out \
        == TEXT


def test_a_recorded_app_is_what_the_tokens_fit(cli: Cli) -> None:
    pair = make_v3_pair(cli)
    tag = tag_of_hex(pair.pairing_id)
    cli.ok(pair.pat, "encrypt", stdin="first message starts the chain")  # deposit out of the way
    done = cli.ok(pair.pat, "pair", "platform", tag, "telegram", "--json").json()
    assert (done["platform"], done["max_chars"]) == ("telegram", 4096)
    lines = _lines(cli.ok(pair.pat, "encrypt", stdin=TEXT).out)
    assert len(lines) == 1 and 1600 < len(lines[0]) <= 4096
    # One message for WhatsApp after all: the flag beats the record, --max-chars both.
    assert _parts(_lines(cli.ok(pair.pat, "encrypt", "--platform", "whatsapp",
                                stdin=TEXT).out)) >= 2
    small = _lines(cli.ok(pair.pat, "encrypt", "--platform", "whatsapp", "--max-chars", "700",
                          stdin=TEXT).out)
    assert all(len(t) <= 700 for t in small) and _parts(small) >= 4
    listed = cli.ok(pair.pat, "pair", "list", "--json").json()
    assert [p["platform"] for p in listed["pairings"]] == ["telegram"]  # type: ignore[index, union-attr]
    assert cli.ok(pair.doc, "pair", "list", "--json").json()["pairings"][0]["platform"] is None  # type: ignore[index]


def test_send_file_splits_its_manifest_for_the_app(cli: Cli, tmp_path: Path) -> None:
    pair = make_v3_pair(cli)
    cli.ok(pair.pat, "encrypt", stdin="chain started")
    report = tmp_path / "resultados.pdf"
    report.write_bytes(b"%PDF-1.4 " + b"x" * 5000)
    lines = _lines(cli.ok(pair.pat, "send-file", str(report), "--out",
                          str(tmp_path / "a.mcf"), "--max-chars", "300").out)
    assert _parts(lines) >= 2 and all(len(t) <= 300 for t in lines)
    opened = cli.ok(pair.doc, "open-file", str(tmp_path / "a.mcf"), "--manifest", "-",
                    "--out", str(tmp_path / "back.pdf"), stdin="\n".join(lines))
    assert opened.code == 0 and (tmp_path / "back.pdf").read_bytes() == report.read_bytes()


@pytest.mark.parametrize("argv", [("pair", "platform", "K7Q-2MX", "signal"),
                                  ("encrypt", "--platform", "sms")])
def test_an_unknown_app_is_refused_before_anything_is_sealed(cli: Cli,
                                                              argv: tuple[str, ...]) -> None:
    pair = make_v3_pair(cli)
    def files() -> dict[str, bytes]:
        return {str(f): f.read_bytes() for f in sorted(pair.pat.rglob("*")) if f.is_file()}
    before = files()
    result = cli(pair.pat, *argv, stdin="hola")
    assert result.code == 2 and "invalid choice" in result.err
    assert files() == before
