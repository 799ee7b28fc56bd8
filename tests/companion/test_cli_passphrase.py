"""The passphrase comes from a real terminal prompt, or MEDCRYPT_PASSPHRASE - never stdin."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from medcrypt.companion.keystore import Keystore

EXE = str(Path(sys.executable).with_name("medcrypt"))


def _read_until(fd: int, marker: bytes, timeout: float = 60) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out waiting for {marker!r}; got {seen!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_init_prompts_twice_on_the_terminal(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MEDCRYPT_PASSPHRASE"}
    pid, fd = pty.fork()
    if pid == 0:  # child: the pty is its controlling terminal
        os.execve(EXE, [EXE, "--home", str(tmp_path / "h"), "init", "--role", "patient"], env)
    try:
        _read_until(fd, b"Keystore passphrase: ")
        os.write(fd, b"typed at the prompt\n")
        _read_until(fd, b"Repeat passphrase: ")
        os.write(fd, b"typed at the prompt\n")
        out = _read_until(fd, b"Identity fingerprint")
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, out
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
