"""One loopback HTTP listener of the bot: uvicorn serving one app behind its edge.

Every web app the bot serves goes through :class:`Listener`, which wraps it in
:class:`~.http_edge.BodyCapped` - so a new endpoint cannot be added without the body
cap - and runs it as a loop the supervisor (:mod:`bot.app.supervisor`) can restart:
:meth:`Listener.run` serves until :meth:`Listener.stop`, calls ``ready`` once the
socket listens, and raises when the server cannot listen or stops on its own.

uvicorn's own logging set-up and signal handling are switched off. Its records go to
the process's handler like every library's (name, level, exception class only), not
to handlers of its own that would print tracebacks. ``medcrypt-bot run`` owns SIGTERM
and SIGINT and stops every loop in order; a server that caught them itself would stop
alone and look like a crash to the supervisor.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

import uvicorn

from medcrypt.bot.adapters.http_edge import ASGIApp, BodyCapped
from medcrypt.crypto.errors import TransportError


class ListenerFailed(TransportError):
    """The listener could not listen, or stopped without being asked to."""


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the process's owner handles signals (module docstring)


class Listener:
    def __init__(self, app: ASGIApp, *, host: str, port: int, max_body_bytes: int,
                 endpoint: str) -> None:
        self.app = BodyCapped(app, max_body_bytes=max_body_bytes, endpoint=endpoint)
        self.host = host
        self.port = port
        self.endpoint = endpoint
        self._server: _Server | None = None
        self._stopping = False

    async def run(self, ready: Callable[[], None]) -> None:
        # log_config=None: uvicorn would otherwise give its loggers handlers of their own,
        # past the process's redacting set-up (crypto.logsetup), tracebacks and all.
        config = uvicorn.Config(self.app, host=self.host, port=self.port, log_config=None,
                                log_level="warning", access_log=False, lifespan="off")
        server = self._server = _Server(config)
        if self._stopping:
            return
        announce = asyncio.create_task(self._announce(server, ready))
        try:
            await server.serve()
        except SystemExit:  # uvicorn's answer to a port it cannot bind
            raise ListenerFailed(f"{self.endpoint}: cannot listen on "
                                 f"{self.host}:{self.port}") from None
        finally:
            announce.cancel()
        if not self._stopping:
            raise ListenerFailed(f"{self.endpoint}: the server stopped on its own")

    @staticmethod
    async def _announce(server: uvicorn.Server, ready: Callable[[], None]) -> None:
        while not server.started:
            await asyncio.sleep(0.01)
        ready()

    @property
    def bound_port(self) -> int | None:
        """The port the server listens on once started (the configured one, or the one
        the kernel chose for port 0); None before it listens."""
        server = self._server
        if server is None or not server.started:
            return None
        for sock in (s for srv in server.servers for s in srv.sockets):
            return int(sock.getsockname()[1])
        return self.port

    def stop(self) -> None:
        """Ask the server to finish its requests and close; :meth:`run` then returns."""
        self._stopping = True
        if self._server is not None:
            self._server.should_exit = True
