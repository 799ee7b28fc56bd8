"""Bytes on stdin that are not UTF-8 get a clear error and exit 3 (malformed input).

Attack (issue 12, item 9): a file in Latin-1, or binary piped by mistake, made every
stdin-reading command fail as "internal error (UnicodeEncodeError)" with exit 1 - the
code reserved for bugs - or, under a UTF-8 locale, as UnicodeDecodeError.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.companion import PASSPHRASE, T0, Pair

EXE = str(Path(sys.executable).with_name("medcrypt"))
NOT_UTF8 = "Résultat: négatif".encode("latin-1") + b"\n\xff\xfe\x00"


@pytest.mark.parametrize("locale", ["C", "C.UTF-8"])
@pytest.mark.parametrize("argv", [["encrypt"], ["decrypt"], ["pair", "accept", "--offer", "-"],
                                  ["pair", "complete", "-"]])
def test_invalid_utf8_on_stdin_is_malformed_input(pair: Pair, locale: str,
                                                  argv: list[str]) -> None:
    home = pair.pat if argv[0] != "pair" or argv[1] == "accept" else pair.doc
    env = {**os.environ, "MEDCRYPT_PASSPHRASE": PASSPHRASE, "MEDCRYPT_NOW": T0,
           "LC_ALL": locale}
    env.pop("PYTHONUTF8", None)
    done = subprocess.run([EXE, "--home", str(home), *argv], input=NOT_UTF8,
                          capture_output=True, env=env, timeout=120, check=False)
    err = done.stderr.decode()
    assert done.returncode == 3, err
    assert err == "medcrypt: error: stdin is not UTF-8 text (convert it first, e.g. " \
                  "with iconv)\n"
    assert done.stdout == b""


def test_valid_utf8_still_round_trips_exactly_through_the_real_script(pair: Pair) -> None:
    env = {**os.environ, "MEDCRYPT_PASSPHRASE": PASSPHRASE, "MEDCRYPT_NOW": T0,
           "LC_ALL": "C"}
    text = "Résultat: négatif ✓\r\nà bientôt\n"

    def run(home: Path, argv: list[str], data: bytes) -> bytes:
        done = subprocess.run([EXE, "--home", str(home), *argv], input=data,
                              capture_output=True, env=env, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    token = run(pair.doc, ["encrypt"], text.encode())
    assert json.loads(run(pair.pat, ["decrypt", "--json"], token))["text"] == text
