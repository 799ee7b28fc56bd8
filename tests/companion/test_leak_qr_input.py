"""`pair accept --qr` hands only PNG and JPEG to a decoder, whatever the file is called.

Attack (issue 12, item 9): an EPS file named ``qr.png`` made Pillow pick its EPS plugin,
which runs Ghostscript on the attacker's PostScript. A fake ``gs`` first on PATH leaves
a trace if anything runs it, so the test sees the interpreter start, not just an error.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.support.companion import PASSPHRASE, T0, Cli

EPS = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n"
       b"newpath 0 0 moveto 64 64 lineto stroke\nshowpage\n%%EOF\n")


def test_eps_named_png_never_reaches_ghostscript(tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    trace = tmp_path / "ghostscript-ran"
    gs = fake_bin / "gs"
    # Answers Pillow's version probe like a real Ghostscript, then records the run.
    gs.write_text(f'#!/bin/sh\necho "$@" >> "{trace}"\n'
                  f'[ "$1" = --version ] && echo 10.02.1 && exit 0\nexit 1\n')
    gs.chmod(0o755)
    (tmp_path / "qr.png").write_bytes(EPS)
    exe = str(Path(sys.executable).with_name("medcrypt"))
    env = {**os.environ, "MEDCRYPT_PASSPHRASE": PASSPHRASE, "MEDCRYPT_NOW": T0,
           "PATH": f"{fake_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
    home = str(tmp_path / "pat")

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, "--home", home, *argv], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=120, check=False)

    assert run("init", "--role", "patient").returncode == 0
    done = run("pair", "accept", "--qr", "qr.png")
    assert not trace.exists(), f"Ghostscript ran with: {trace.read_text()}"
    assert done.returncode == 3, done.stderr
    assert "PNG or JPEG" in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.parametrize("fmt", ["BMP", "GIF", "TIFF", "WEBP"])
def test_a_readable_qr_in_another_format_is_refused(cli: Cli, fmt: str) -> None:
    """The same offer QR that pairs as PNG is refused as BMP, GIF, TIFF or WebP."""
    doc, pat = cli.tmp / "doc", cli.tmp / "pat"
    cli.ok(doc, "init", "--role", "physician")
    cli.ok(pat, "init", "--role", "patient")
    cli.ok(doc, "pair", "offer", "--png", "offer.png", "--no-terminal")
    disguised = cli.tmp / "qr.png"
    with Image.open(cli.tmp / "offer.png") as img:
        img.convert("RGB").save(disguised, format=fmt)
    res = cli(pat, "pair", "accept", "--qr", str(disguised))
    assert res.code == 3, res.err
    assert "PNG or JPEG" in res.err and res.out == ""
    assert cli.ok(pat, "status", "--json").json()["pairings"] == []
    # the genuine PNG still pairs: the refusal is about the format, not the QR
    cli.ok(pat, "pair", "accept", "--qr", str(cli.tmp / "offer.png"))
