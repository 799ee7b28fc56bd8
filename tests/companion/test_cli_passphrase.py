"""The passphrase comes from a real terminal prompt, or MEDCRYPT_PASSPHRASE - never stdin."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from medcrypt.companion.keystore import Keystore
from tests.support.terminal import EXE, Terminal


def test_init_prompts_twice_on_the_terminal(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MEDCRYPT_PASSPHRASE"}
    with Terminal(["--home", str(tmp_path / "h"), "init", "--role", "patient"], env) as term:
        term.answer(b"Keystore passphrase: ", b"typed at the prompt")
        term.answer(b"Repeat passphrase: ", b"typed at the prompt")
        term.read_until(b"Identity fingerprint")
        code, out = term.close()
    assert code == 0, out
    assert b"typed at the prompt" not in out  # not echoed
    with Keystore.unlock(tmp_path / "h", "typed at the prompt") as store:
        assert store.state["role"] == "patient"


def test_without_terminal_or_env_it_refuses_instead_of_reading_stdin(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MEDCRYPT_PASSPHRASE"}
    done = subprocess.run([EXE, "--home", str(tmp_path / "h"), "init", "--role", "patient"],
                          input="secret-on-stdin\n", capture_output=True, text=True, env=env,
                          start_new_session=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "MEDCRYPT_PASSPHRASE" in done.stderr and done.stderr.count("\n") == 1
    assert not (tmp_path / "h" / "keystore.mcks").exists()
