"""Answering a companion's y/N question on a real terminal (a pty), as a person would.

The companion asks only when stdin and stderr are a terminal, so a test that wants the
question has to give it one: the ``medcrypt`` console script runs as a child of a pty.
"""

from __future__ import annotations

import os
import pty
import select
import sys
import time
from pathlib import Path

EXE = str(Path(sys.executable).with_name("medcrypt"))


def pty_run(argv: list[str], answer: bytes, env: dict[str, str],
            question: bytes) -> tuple[int, bytes]:
    """Run ``medcrypt ARGV`` on a pty, type ``answer`` once ``question`` shows; (status, seen)."""
    pid, fd = pty.fork()
    if pid == 0:  # child: the pty is its terminal (stdin, stdout, stderr)
        os.execve(EXE, [EXE, *argv], env)
    try:
        seen = _read_until(fd, question)
        os.write(fd, answer + b"\n")
        seen += _read_until(fd, b"\x00", until_eof=True)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), seen


def _read_until(fd: int, marker: bytes, *, until_eof: bool = False) -> bytes:
    seen = b""
    deadline = time.monotonic() + 60
    while until_eof or marker not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out waiting for {marker!r}; got {seen!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    return seen
