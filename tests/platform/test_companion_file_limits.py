"""The companion warns before it seals a file the chat apps will not carry."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.companion import Cli, Pair, make_pair


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> Cli:
    return Cli(capsys, monkeypatch, tmp_path)


@pytest.fixture
def pair(cli: Cli) -> Pair:
    return make_pair(cli)


def test_warns_before_sealing_a_file_too_large_for_whatsapp(cli: Cli, pair: Pair) -> None:
    big = cli.tmp / "scan.tif"
    big.write_bytes(bytes(17 * 1000 * 1000))
    out = cli.tmp / "scan.mcf"
    res = cli.ok(pair.doc, "send-file", str(big), "--out", str(out))
    warning = res.err.split("encrypted file written")[0]  # said before the sealing ended
    assert "WhatsApp" in warning and "16 MB" in warning, res.err
    assert "Telegram" not in warning  # 17 MB still fits Telegram's 20 MB
    assert out.exists()


def test_warns_for_both_platforms_past_20_mb(cli: Cli, pair: Pair) -> None:
    big = cli.tmp / "video.mp4"
    big.write_bytes(bytes(21 * 1024 * 1024))
    res = cli.ok(pair.doc, "send-file", str(big), "--out", str(cli.tmp / "v.mcf"))
    assert "WhatsApp" in res.err and "Telegram" in res.err and "20 MB" in res.err


def test_no_warning_for_a_small_file(cli: Cli, pair: Pair) -> None:
    small = cli.tmp / "lab.pdf"
    small.write_bytes(b"%PDF-1.7 " + bytes(1000))
    res = cli.ok(pair.doc, "send-file", str(small), "--out", str(cli.tmp / "l.mcf"))
    assert "WhatsApp" not in res.err and "Telegram" not in res.err


def test_opens_a_file_that_arrived_on_whatsapp_inside_a_pdf(cli: Cli, pair: Pair) -> None:
    """WhatsApp delivers the container wrapped in a PDF (ADR 0023): open-file takes the
    PDF as it was saved from the chat, and refuses a PDF that is no such wrapper."""
    from medcrypt.crypto.keyless import pdf_wrap

    src = cli.tmp / "lab.txt"
    src.write_bytes(b"potassium 4.1 mmol/L\n" * 500)
    sealed = cli.tmp / "lab.mcf"
    manifest = cli.ok(pair.pat, "send-file", str(src), "--out", str(sealed)).out.strip()
    pdf = cli.tmp / "medcrypt-message.pdf"
    pdf.write_bytes(pdf_wrap.wrap(sealed.read_bytes()))
    out = cli.tmp / "opened.txt"
    cli.ok(pair.doc, "open-file", str(pdf), "--manifest", manifest, "--out", str(out))
    assert out.read_bytes() == src.read_bytes()
    plain = cli.tmp / "plain.pdf"
    plain.write_bytes(b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n")
    res = cli(pair.doc, "open-file", str(plain), "--manifest", manifest, "--out",
              str(cli.tmp / "x.txt"))
    assert res.code != 0 and not (cli.tmp / "x.txt").exists()
