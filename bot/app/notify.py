"""systemd's notify protocol (sd_notify), written as the datagram it is.

Under ``Type=notify`` systemd passes ``$NOTIFY_SOCKET``, a unix datagram socket (a
path, or ``@name`` in the abstract namespace); the service sends newline-separated
``KEY=value`` assignments to it. The bot sends:

- ``READY=1`` once the database is at the migration head and every loop started
  (``BotApp.start``), so ``systemctl start`` returns when the relay is serving and
  units ordered after it start then;
- ``WATCHDOG=1`` every half of ``$WATCHDOG_USEC`` from a task on the event loop
  (``BotApp``), so a loop stuck in a blocking call misses its pings and systemd
  restarts the process - the failure a thread pinging on its own would hide;
- ``EXTEND_TIMEOUT_USEC=...`` before start-up work that may outlast the unit's
  ``TimeoutStartSec`` (a start-up retry passes its own budget);
- ``STOPPING=1`` when it begins to stop.

A library would add a dependency for a one-line protocol. Sends never block (the
socket is non-blocking) and never raise: a full or missing socket costs a log line,
by exception class. Without ``$NOTIFY_SOCKET`` (not under systemd, tests) every call
is a no-op. ``$WATCHDOG_PID``, when set, must be this process: a child that inherited
the variables must not ping for its parent.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

import structlog

log = structlog.get_logger("bot.notify")


def _address(value: str) -> str | None:
    if not value:
        return None
    if value.startswith("@"):  # the abstract namespace
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None  # vsock and other forms are not used for services like this one


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None, *,
                 pid: int | None = None) -> None:
        env = os.environ if environ is None else environ
        self._address = _address(env.get("NOTIFY_SOCKET", ""))
        usec = env.get("WATCHDOG_USEC", "")
        owner = env.get("WATCHDOG_PID", "")
        mine = not owner or owner == str(os.getpid() if pid is None else pid)
        self.watchdog_usec = int(usec) if usec.isdigit() and int(usec) > 0 and mine else None

    @property
    def enabled(self) -> bool:
        return self._address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between watchdog pings (half the watchdog timeout), or None."""
        if self._address is None or self.watchdog_usec is None:
            return None
        return self.watchdog_usec / 2 / 1_000_000

    def send(self, *assignments: str) -> bool:
        """Send one datagram of ``KEY=value`` lines; True when it was sent."""
        if self._address is None:
            return False
        payload = "\n".join(assignments).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
                s.setblocking(False)
                s.sendto(payload, self._address)
        except OSError as exc:
            log.warning("sd_notify_failed", error=type(exc).__name__)
            return False
        return True

    def ready(self) -> bool:
        return self.send("READY=1", "STATUS=relaying")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for ``seconds`` more before the current start (or stop) times out."""
        return self.send(f"EXTEND_TIMEOUT_USEC={max(1, int(seconds * 1_000_000))}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1", "STATUS=stopping")
