"""A new keystore needs a passphrase an estimator rates at least "fair" (zxcvbn score 2).

Attack (issue 12, item 9): ``medcrypt init`` sealed the keystore - every key and, with
history, plaintext - under "password1". Whoever copies the file guesses offline, with
no rate limit; zxcvbn puts that passphrase among the first few hundred guesses.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medcrypt.companion.app import new_state
from medcrypt.companion.keystore import FILE_NAME, Keystore
from medcrypt.crypto.endpoint.pairing import Role
from medcrypt.crypto.endpoint.session import IdentityKey
from tests.support.companion import PASSPHRASE, T0, Cli, Pair


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


def _read_until(fd: int, marker: bytes) -> bytes:
    seen = b""
    deadline = time.monotonic() + 60
    while marker not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out waiting for {marker!r}; got {seen!r}"
        if select.select([fd], [], [], remaining)[0]:
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_init_at_the_terminal_refuses_a_weak_passphrase(tmp_path: Path) -> None:
    """The typed passphrase is rated too, not only MEDCRYPT_PASSPHRASE."""
    exe = str(Path(sys.executable).with_name("medcrypt"))
    env = {k: v for k, v in os.environ.items() if k != "MEDCRYPT_PASSPHRASE"}
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(exe, [exe, "--home", str(tmp_path / "h"), "init", "--role", "patient"], env)
    try:
        _read_until(fd, b"Keystore passphrase: ")
        os.write(fd, b"iloveyou2\n")
        _read_until(fd, b"Repeat passphrase: ")
        os.write(fd, b"iloveyou2\n")
        out = _read_until(fd, b"(2 of 4)")
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 2, out
    assert b"too easy to guess" in out
    assert not (tmp_path / "h" / FILE_NAME).exists()
