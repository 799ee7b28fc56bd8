"""``/healthz``, ``/readyz`` and ``/metrics`` on a loopback listener of their own.

Polling mode has no HTTP server, and the WhatsApp webhook's listener faces the
internet through a proxy; the operator's endpoints get their own listener
(``[monitoring]``), on the one server stack the bot has (uvicorn behind
:class:`~bot.adapters.http_listener.Listener`, whose edge caps request bodies).

- ``/healthz``: liveness. It is answered by the event loop the relay runs on, so an
  answer means the loop is not stuck; nothing else is checked (a database outage is
  not a reason to restart the process).
- ``/readyz``: readiness, from cached state only (:mod:`bot.app.probe` for the
  database, :class:`~bot.domain.health.LoopHealth` for the platform loops): 200 when
  the bot finished starting, the database is at the migration head and every platform
  loop is up; 503 otherwise. The JSON body names what is not ready with fixed words
  and exception class names.
- ``/metrics``: this bot's Prometheus registry (:mod:`bot.app.metrics`).

Only GET and HEAD are routed; anything else gets 405 from Starlette.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from medcrypt.bot.app.metrics import BotMetrics
from medcrypt.bot.app.probe import Probe
from medcrypt.bot.domain.health import LoopHealth

#: Monitoring requests have no body; the edge refuses anything larger unread.
MAX_BODY_BYTES = 1024
ENDPOINT = "monitoring"


def readiness(started: bool, probe: Probe, health: LoopHealth) -> tuple[bool, dict[str, Any]]:
    """Whether the bot is ready, and the report ``/readyz`` returns (no I/O)."""
    database = probe.database()
    loops = health.snapshot()
    ready = started and database.ok and health.ready()
    report: dict[str, Any] = {
        "ready": ready,
        "started": started,
        "database": {"ok": database.ok, "reason": database.reason},
        "loops": {name: {"up": state.up, "reason": state.reason,
                         "restarts": state.restarts}
                  for name, state in sorted(loops.items())},
    }
    return ready, report


def monitoring_app(*, started: Callable[[], bool], probe: Probe, health: LoopHealth,
                   metrics: BotMetrics) -> Starlette:
    async def healthz(_request: Request) -> Response:
        return Response("ok\n", media_type="text/plain")

    async def readyz(_request: Request) -> Response:
        ready, report = readiness(started(), probe, health)
        metrics.ready.set(1 if ready else 0)
        return Response(json.dumps(report, sort_keys=True) + "\n",
                        status_code=200 if ready else 503, media_type="application/json")

    async def metrics_page(_request: Request) -> Response:
        ready, _report = readiness(started(), probe, health)
        metrics.ready.set(1 if ready else 0)
        return Response(metrics.render(), media_type=CONTENT_TYPE_PLAIN_0_0_4)

    return Starlette(routes=[
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
        Route("/metrics", metrics_page, methods=["GET", "HEAD"]),
    ])
