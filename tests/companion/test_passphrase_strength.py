"""A new keystore needs a passphrase an estimator rates at least "fair" (zxcvbn score 2).

Attack (issue 12, item 9): ``medcrypt init`` sealed the keystore - every key and, with
history, plaintext - under "password1". Whoever copies the file guesses offline, with
no rate limit; zxcvbn puts that passphrase among the first few hundred guesses.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from medcrypt.companion.app import new_state
from medcrypt.companion.keystore import FILE_NAME, Keystore
from medcrypt.crypto.endpoint.pairing import Role
from medcrypt.crypto.endpoint.session import IdentityKey
from tests.support.companion import PASSPHRASE, T0, Cli, Pair
from tests.support.terminal import Terminal


@pytest.mark.parametrize(("weak", "rated", "advice"), [
    ("password1", "very weak (0 of 4)", "This is a very common password."),
    ("aaaaaaaaaaaa", "very weak (0 of 4)", 'Repeats like "aaa" are easy to guess.'),
    ("medcrypt", "very weak (0 of 4)", "Add another word or two."),
    ("letmein123", "weak (1 of 4)", "This is similar to a commonly used password."),
    ("patient2026", "weak (1 of 4)", "Add another word or two."),
])
def test_a_guessable_passphrase_is_refused_with_the_reason(cli: Cli, weak: str, rated: str,
                                                          advice: str) -> None:
    home = cli.tmp / "h"
    res = cli(home, "init", "--role", "patient", passphrase=weak)
    assert res.code == 2, res.err
    assert not (home / FILE_NAME).exists()
    assert res.err.count("\n") == 1 and weak not in res.err.split("passphrase:", 1)[1]
    assert f"too easy to guess: rated {rated}; a new keystore needs at least fair " \
           "(2 of 4)" in res.err
    assert advice in res.err


@pytest.mark.parametrize("fair", ["Summer2026!", "blue elephant", "correcthorse"])
def test_a_fair_passphrase_is_enough(cli: Cli, fair: str) -> None:
    out = cli.ok(cli.tmp / fair, "init", "--role", "patient", passphrase=fair).out
    assert "Passphrase strength: fair (2 of 4)" in out
    cli.ok(cli.tmp / fair, "status", passphrase=fair)


def test_a_long_passphrase_is_rated_not_refused(cli: Cli) -> None:
    long = "pelican " * 4 + "harbour lantern quietly folds twelve maps under violet rain"
    assert len(long) > 72  # longer than zxcvbn rates at once
    out = cli.ok(cli.tmp / "h", "init", "--role", "physician", passphrase=long).out
    assert "Passphrase strength: strong (4 of 4)" in out


def test_an_existing_keystore_with_a_weak_passphrase_still_opens(cli: Cli) -> None:
    """The rule is for new keystores; an old one is not locked out by an upgrade."""
    home = cli.tmp / "old"
    state = new_state(Role.PATIENT, IdentityKey.generate(), escrow_public=None,
                      bot_contact="")
    with Keystore.create(home, "password1", state):
        pass
    assert cli.ok(home, "status", "--json", passphrase="password1").json()["role"] == "patient"


def test_decrypt_does_not_import_the_estimator(cli: Cli, pair: Pair) -> None:
    """Cold start: zxcvbn's dictionaries are loaded by `init` only."""
    token = cli.ok(pair.pat, "encrypt", stdin="x").out
    code = ("import sys; from medcrypt.companion.cli import main; "
            "rc = main(['--home', sys.argv[1], 'decrypt']); "
            "print('LOADED', 'zxcvbn' in sys.modules, rc)")
    env = {**os.environ, "MEDCRYPT_PASSPHRASE": PASSPHRASE, "MEDCRYPT_NOW": T0}
    done = subprocess.run([sys.executable, "-c", code, str(pair.doc)], input=token,
                          capture_output=True, text=True, env=env, timeout=120, check=True)
    assert done.stdout.endswith("LOADED False 0\n"), done.stdout + done.stderr


def test_init_at_the_terminal_refuses_a_weak_passphrase(tmp_path: Path) -> None:
    """The typed passphrase is rated too, not only MEDCRYPT_PASSPHRASE."""
    env = {k: v for k, v in os.environ.items() if k != "MEDCRYPT_PASSPHRASE"}
    with Terminal(["--home", str(tmp_path / "h"), "init", "--role", "patient"], env) as term:
        term.answer(b"Keystore passphrase: ", b"iloveyou2")
        term.answer(b"Repeat passphrase: ", b"iloveyou2")
        term.read_until(b"(2 of 4)")
        code, out = term.close()
    assert code == 2, out
    assert b"too easy to guess" in out
    assert not (tmp_path / "h" / FILE_NAME).exists()
