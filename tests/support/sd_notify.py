"""A test-owned ``$NOTIFY_SOCKET``: the datagram socket systemd would listen on.

Bound by the test (a path in a short temporary directory: unix socket paths are limited
to 107 bytes, and pytest's tmp_path can be longer), read by a thread that stamps each
datagram with its arrival time, so a test can say *when* the bot notified - e.g. that
no watchdog ping arrived while the bot's event loop was blocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType


@dataclass(frozen=True)
class Datagram:
    at: float  # time.monotonic() on arrival
    lines: tuple[str, ...]


@dataclass
class NotifySocket:
    path: Path = field(init=False)
    received: list[Datagram] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="mcn-", dir="/tmp"))
        self.path = self._dir / "notify"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(self.path))
        self._sock.settimeout(0.1)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def environ(self, watchdog_usec: int | None = None) -> dict[str, str]:
        env = {"NOTIFY_SOCKET": str(self.path)}
        if watchdog_usec is not None:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        return env

    def _read(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.received.append(Datagram(time.monotonic(),
                                              tuple(data.decode().split("\n"))))

    def all(self) -> list[Datagram]:
        with self._lock:
            return list(self.received)

    def with_line(self, line: str) -> list[Datagram]:
        return [d for d in self.all() if line in d.lines]

    def first_index(self, prefix: str) -> int:
        """Index of the first datagram with a line starting with ``prefix`` (-1: none)."""
        for i, d in enumerate(self.all()):
            if any(x.startswith(prefix) for x in d.lines):
                return i
        return -1

    def wait_for(self, line: str, timeout: float = 30) -> Datagram:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = self.with_line(line)
            if hits:
                return hits[0]
            time.sleep(0.02)
        raise AssertionError(f"no {line!r} on the notify socket; got {self.all()!r}")

    async def wait_for_async(self, line: str, timeout: float = 30) -> Datagram:
        """:meth:`wait_for` for a test whose event loop runs the bot (never block it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = self.with_line(line)
            if hits:
                return hits[0]
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {line!r} on the notify socket; got {self.all()!r}")

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=2)
        with contextlib.suppress(OSError):
            self._sock.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> NotifySocket:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
