"""The ``medcrypt`` CLI on a real terminal (a pty), for what only a terminal shows.

Prompts that must never read stdin (the passphrase) and questions asked only when a
person is there (keeping history) cannot be tested through pipes: the CLI checks
``isatty``. A test spawns the installed ``medcrypt`` script with the pty as its
controlling terminal, answers at the prompts, and reads everything it wrote.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import time
from pathlib import Path

#: The ``medcrypt`` entry point installed beside this interpreter.
EXE = str(Path(sys.executable).with_name("medcrypt"))


class Terminal:
    """``medcrypt ARGV`` running on a pty; use as a context manager, or call ``close``."""

    def __init__(self, argv: list[str], env: dict[str, str], timeout: float = 60) -> None:
        self._deadline = time.monotonic() + timeout
        self.seen = b""
        self.exit_code: int | None = None
        self._pid, self._fd = pty.fork()
        if self._pid == 0:  # child: the pty is its terminal (stdin, stdout, stderr)
            os.execve(EXE, [EXE, *argv], env)

    def read_until(self, marker: bytes) -> bytes:
        """Read until ``marker`` has appeared; return everything read so far."""
        while marker not in self.seen:
            if not self._read_some(marker):
                break
        return self.seen

    def answer(self, marker: bytes, line: bytes) -> None:
        """Wait for the prompt ``marker``, then type ``line`` and Enter."""
        self.read_until(marker)
        os.write(self._fd, line + b"\n")

    def type(self, data: bytes) -> None:
        """Type ``data`` now, without waiting for a prompt (a paste, Ctrl-D as ``\x04``)."""
        os.write(self._fd, data)

    def close(self) -> tuple[int, bytes]:
        """Read to the end, reap the process; return (exit code, everything it wrote)."""
        while self._read_some(None):
            pass
        _, status = os.waitpid(self._pid, 0)
        os.close(self._fd)
        self.exit_code = os.waitstatus_to_exitcode(status)
        return self.exit_code, self.seen

    def _read_some(self, marker: bytes | None) -> bool:
        remaining = self._deadline - time.monotonic()
        assert remaining > 0, f"timed out waiting for {marker!r}; got {self.seen!r}"
        ready, _, _ = select.select([self._fd], [], [], remaining)
        if not ready:
            return True
        try:
            chunk = os.read(self._fd, 1024)
        except OSError:  # the child closed the terminal
            return False
        self.seen += chunk
        return bool(chunk)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self.exit_code is None:
            if exc_type is not None:  # the test failed mid-dialogue: do not wait for input
                os.kill(self._pid, signal.SIGKILL)
            self.close()


def pty_run(argv: list[str], answer: bytes, env: dict[str, str],
            question: bytes) -> tuple[int, bytes]:
    """Run ``medcrypt ARGV`` on a pty, type ``answer`` once ``question`` shows; (status, seen)."""
    with Terminal(argv, env) as term:
        term.answer(question, answer)
        return term.close()
