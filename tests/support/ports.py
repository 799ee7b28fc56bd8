"""Loopback ports for servers that must know their port before they start.

A server that can bind port 0 does so and reports the port it got: the sandbox fakes
work that way. Only a server whose address is written into configuration first needs
a port chosen in advance: the bot's webhook listener (Twilio signs the public URL, so
the URL is configured before the server exists), PTB's webhook server, and a bot that
a test kills and restarts on the same address.

Such ports come from :func:`worker_port`, never from "bind port 0, read it, close": a
port found that way is in the kernel's ephemeral range (32768-60999 on Linux), where
any other server binding port 0 - on the other xdist worker, or in another engineer's
run on the same machine - can take it before our server binds. Here every xdist
worker owns its own block of ports below that range, so port-0 binds never land in
it and two workers never hand out the same port. The blocks of one run start at an
offset drawn once per run (the controller passes it to its workers in the
environment), so concurrent runs on a shared machine rarely share a block, and a port
somebody already listens on is skipped.
"""

from __future__ import annotations

import itertools
import os
import secrets
import socket
from collections.abc import Iterator

LOW = 20_000  # well above the well-known and registered ports tests might meet
HIGH = 32_768  # the start of Linux's ephemeral range: port-0 binds land at or above it
BLOCK = 400  # ports per worker: more than one worker's tests ever ask for
BLOCKS = (HIGH - LOW) // BLOCK
RUN_ENV = "MEDCRYPT_TEST_PORT_RUN"


def choose_run_offset() -> None:
    """Draw this run's block offset once, in the controller, before workers start."""
    os.environ.setdefault(RUN_ENV, str(secrets.randbelow(BLOCKS)))


def worker_index() -> int:
    """0 for ``gw0`` (and for a run without xdist), 1 for ``gw1``, ..."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker.removeprefix("gw") or 0)


def _block_start() -> int:
    offset = int(os.environ.get(RUN_ENV, "0"))
    return LOW + ((offset + worker_index()) % BLOCKS) * BLOCK


_candidates: Iterator[int] | None = None


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def worker_port() -> int:
    """A loopback port from this worker's block that nobody listens on right now."""
    global _candidates  # one walk through the block per worker process
    if _candidates is None:  # first use: the worker id and the run offset are set by now
        start = _block_start()
        _candidates = itertools.cycle(range(start, start + BLOCK))
    for _ in range(BLOCK):
        port = next(_candidates)
        if _free(port):
            return port
    raise RuntimeError(f"no free port in this worker's block at {_block_start()}")
