"""Files the companion writes give nothing away: private modes, and no telling names.

Attacks (issue 12, item 9):
* with a permissive umask (0002 on many desktops, 0000 in some containers) the offer
  PNG - the one-time pairing secret - and a decrypted attachment were readable by every
  other account on the machine;
* ``send-file`` named the container ``<original name>.mcf``, and the platform the user
  uploads it to shows that name ("HIV test - positive.pdf.mcf") to itself and the bot.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.companion import Cli, Pair


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: every file mode comes from the code, nothing from here."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_offer_png_is_private_whatever_the_umask(cli: Cli, open_umask: None) -> None:
    doc = cli.tmp / "doc"
    cli.ok(doc, "init", "--role", "physician")
    cli.ok(doc, "pair", "offer", "--png", "offer.png", "--no-terminal")
    assert _mode(cli.tmp / "offer.png") == 0o600
    # a file already at that path keeps no looser mode of its own
    stale = cli.tmp / "stale.png"
    stale.write_bytes(b"old picture")
    stale.chmod(0o644)
    cli.ok(doc, "pair", "offer", "--png", "stale.png", "--no-terminal")
    assert _mode(stale) == 0o600 and stale.read_bytes().startswith(b"\x89PNG")


def test_opened_file_is_private_whatever_the_umask(cli: Cli, pair: Pair,
                                                   open_umask: None) -> None:
    src = cli.tmp / "lab.pdf"
    src.write_bytes(b"%PDF-1.7 potassium 5.9 mmol/l")
    token = cli.ok(pair.doc, "send-file", str(src), "--out", "lab.mcf").out
    cli.ok(pair.pat, "decrypt", stdin=token)
    inbox = cli.tmp / "inbox"
    inbox.mkdir()
    opened = Path(cli.ok(pair.pat, "open-file", "lab.mcf", "--out-dir", str(inbox)).out.strip())
    assert opened.read_bytes() == src.read_bytes()
    assert _mode(opened) == 0o600
    shared = cli.tmp / "shared.pdf"
    shared.write_bytes(b"someone else's")
    shared.chmod(0o644)
    cli.ok(pair.pat, "open-file", "lab.mcf", "--out", str(shared), "--force")
    assert shared.read_bytes() == src.read_bytes() and _mode(shared) == 0o600


def test_send_file_default_container_name_is_random(cli: Cli, pair: Pair) -> None:
    src = cli.tmp / "HIV test - positive.pdf"
    src.write_bytes(b"%PDF-1.7 result")
    names = []
    for _ in range(2):
        before = set(cli.tmp.glob("*.mcf"))
        sent = cli.ok(pair.doc, "send-file", str(src))
        (container,) = set(cli.tmp.glob("*.mcf")) - before
        assert re.fullmatch(r"[0-9a-f]{16}\.mcf", container.name), container.name
        assert container.name in sent.err  # the user is told where it is
        names.append(container.name)
    assert names[0] != names[1]
    # the real name still reaches the patient, inside the encrypted manifest
    token = sent.out
    cli.ok(pair.pat, "decrypt", stdin=token)
    inbox = cli.tmp / "inbox"
    inbox.mkdir()
    out = cli.ok(pair.pat, "open-file", names[1], "--out-dir", str(inbox)).out.strip()
    assert Path(out) == inbox / src.name and Path(out).read_bytes() == src.read_bytes()
