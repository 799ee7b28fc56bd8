"""``medcrypt-bot escrow init`` through ``bot.cli.main`` and ``medcrypt-breakglass open``
through ``opener.cli.main``."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from medcrypt.bot.cli import main
from medcrypt.bot.domain.breakglass.bundle import build_bundle, escrow_public_from_config
from medcrypt.crypto.endpoint import breakglass
from medcrypt.opener.cli import main as open_main
from tests.support.breakglass import AT, CODE, items_of
from tests.support.conversation import make_conversation, make_escrow

SHARE_RE = re.compile(r"--- share (\d) of (\d) for (.+) ---\n(.+)\n")


def init(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[list[tuple[str, str]], bytes]:
    assert main(["escrow", "init", *argv]) == 0
    out = capsys.readouterr().out
    shares = [(m.group(3), m.group(4)) for m in SHARE_RE.finditer(out)]
    config_key = re.search(r'escrow_public_key = "([A-Za-z0-9_-]+)"', out)
    companion_key = re.search(r"--escrow-key (\S+)", out)
    assert config_key and companion_key
    public = escrow_public_from_config(config_key.group(1))
    assert base64.b64decode(companion_key.group(1), validate=True) == public
    return shares, public


def write_bundle(tmp_path: Path, public: bytes) -> Path:
    conv = make_conversation(public, AT)
    conv.send("physician", "Stop the anticoagulant before surgery.")
    conv.send("patient", "OK.")
    path = tmp_path / "b.mcbg"
    path.write_bytes(build_bundle(public, CODE, {"pairing": conv.pairing_id.hex()},
                                  items_of(conv)))
    return path


def test_init_prints_labelled_shares_and_a_key_that_opens(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shares, public = init(capsys, "--labels", "Dr Ames,Nurse Bo,Director Cy")
    assert [label for label, _ in shares] == ["Dr Ames", "Nurse Bo", "Director Cy"]
    assert len({words for _, words in shares}) == 3
    path = write_bundle(tmp_path, public)
    assert open_main(["open", str(path), "--share", shares[2][1],
                 "--share", shares[0][1]]) == 0
    out = capsys.readouterr().out
    assert "Stop the anticoagulant before surgery." in out and '"request": "0123456789"' in out


def test_init_three_of_five_with_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ESCROW_PASS", "night shift 42")
    shares, public = init(capsys, "--shares", "5", "--threshold", "3",
                          "--passphrase-env", "ESCROW_PASS")
    assert len(shares) == 5
    words = [w for _, w in shares]
    path = write_bundle(tmp_path, public)
    assert open_main(["open", str(path), "--share", words[4], "--share", words[1],
                 "--share", words[3], "--passphrase-env", "ESCROW_PASS"]) == 0
    capsys.readouterr()
    assert open_main(["open", str(path), "--share", words[4], "--share", words[1],
                 "--share", words[3]]) == 3  # no passphrase: another key, refused
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "do not recover the escrow key" in err


def test_init_refuses_bad_layouts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["escrow", "init", "--threshold", "1"]) == 2
    assert main(["escrow", "init", "--shares", "2", "--threshold", "3"]) == 2
    assert main(["escrow", "init", "--labels", "only,two"]) == 2
    assert main(["escrow", "init", "--passphrase-env", "SURELY_UNSET_VAR_XYZ"]) == 2
    err = capsys.readouterr().err
    assert all(line.startswith("medcrypt-bot: config error:") for line in err.splitlines())


@pytest.fixture
def opened_setup(tmp_path: Path) -> tuple[Path, list[str], list[str]]:
    escrow, other = make_escrow(), make_escrow()
    return write_bundle(tmp_path, escrow.public), escrow.shares, other.shares


def _open(*argv: str) -> int:
    return open_main(["open", *argv])


def test_open_refusals_are_one_line_and_reveal_nothing(
        opened_setup: tuple[Path, list[str], list[str]], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path, shares, other = opened_setup
    cases = [
        ([str(path), "--share", shares[0]], 4, "one share is not enough"),
        ([str(path), "--share", shares[0], "--share", other[1]], 4, "do not combine: Invalid set"),
        ([str(path), "--share", other[0], "--share", other[1]], 3, "do not recover"),
        ([str(path), "--share", shares[0], "--share", shares[0]], 4, "twice"),
    ]
    tampered = tmp_path / "t.mcbg"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    tampered.write_bytes(bytes(data))
    cases.append(([str(tampered), "--share", shares[0], "--share", shares[1]], 3,
                  "decryption failed"))
    notbundle = tmp_path / "n.mcbg"
    notbundle.write_bytes(b"hello")
    cases.append(([str(notbundle), "--share", shares[0], "--share", shares[1]], 3,
                  "not a break-glass bundle"))
    for argv, status, text in cases:
        assert _open(*argv) == status, argv
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.count("\n") == 1 and text in captured.err, captured.err
        assert "anticoagulant" not in captured.err
        for share in shares + other:
            # Three words in a row: one word alone may be an English word of the message
            # ("recover" is on the SLIP-39 word list), and shares are random.
            words = share.split()
            for i in range(len(words) - 2):
                assert " ".join(words[i:i + 3]) not in captured.err


def test_open_prompts_for_shares_without_echo(
        opened_setup: tuple[Path, list[str], list[str]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    path, shares, _other = opened_setup
    answers = iter([shares[1], shares[2]])
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    out = tmp_path / "out"
    assert _open(str(path), "--out", str(out)) == 0
    assert prompts == ["Share 1 (words, no echo): ", "Share 2 of 2: "]
    assert "OK." in (out / "messages.jsonl").read_text()
    assert out.stat().st_mode & 0o077 == 0
    capsys.readouterr()
    assert _open(str(path), "--share", shares[0], "--share", shares[1],
                 "--out", str(out)) == 2  # never overwrites an earlier opening
    assert "new or empty directory" in capsys.readouterr().err


def test_opened_bundle_matches_library(opened_setup: tuple[Path, list[str], list[str]]) -> None:
    path, shares, _ = opened_setup
    opened = breakglass.open_bundle(path.read_bytes(), shares[:2])
    assert [m.body for m in opened.messages] == [b"Stop the anticoagulant before surgery.",
                                                 b"OK."]
