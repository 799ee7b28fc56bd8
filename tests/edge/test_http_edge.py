"""The edge every bot listener puts in front of its app: cap, replay, no tracebacks.

A real :class:`Listener` (uvicorn on loopback) serving a small app that echoes what it
was given, driven by httpx the way a client - or an attacker - would.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from medcrypt.bot.adapters.http_edge import declared_length
from medcrypt.bot.adapters.http_listener import Listener
from medcrypt.crypto.logsetup import configure_logging
from tests.support.ports import worker_port

CAP = 32 * 1024
SECRET = "Dolores Aguilar-Nuñez has stage III"


async def echo(request: Request) -> Response:
    body = await request.body()
    return Response(str(len(body)).encode(), status_code=200)


async def boom(request: Request) -> Response:
    raise ValueError(f"cannot parse row for {SECRET}")


@pytest.fixture
async def url() -> AsyncIterator[str]:
    port = worker_port()
    app = Starlette(routes=[Route("/echo", echo, methods=["POST", "GET"]),
                            Route("/boom", boom, methods=["POST"])])
    listener = Listener(app, host="127.0.0.1", port=port, max_body_bytes=CAP,
                        endpoint="test")
    ready = asyncio.Event()
    task = asyncio.create_task(listener.run(ready.set))
    await asyncio.wait_for(ready.wait(), 10)
    yield f"http://127.0.0.1:{port}"
    listener.stop()
    await task


async def chunks(total: int, size: int = 4096) -> AsyncIterator[bytes]:
    """A body without Content-Length: httpx sends it chunked."""
    for start in range(0, total, size):
        yield b"z" * min(size, total - start)


async def test_a_body_at_the_cap_reaches_the_app_whole(url: str) -> None:
    async with httpx.AsyncClient() as client:
        declared = await client.post(f"{url}/echo", content=b"a" * CAP)
        streamed = await client.post(f"{url}/echo", content=chunks(CAP))
    assert (declared.status_code, declared.text) == (200, str(CAP))
    assert (streamed.status_code, streamed.text) == (200, str(CAP))


async def test_one_byte_over_the_cap_is_413_declared_or_streamed(url: str) -> None:
    async with httpx.AsyncClient() as client:
        declared = await client.post(f"{url}/echo", content=b"a" * (CAP + 1))
        streamed = await client.post(f"{url}/echo", content=chunks(CAP + 1))
    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert declared.headers["connection"] == "close"  # the rest is not drained


async def test_an_exception_in_a_handler_is_500_with_its_type_only(url: str) -> None:
    out = io.StringIO()
    configure_logging(level="INFO", json=True, stream=out)
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{url}/boom", content=b"x")
    assert response.status_code == 500
    logged = out.getvalue()
    assert '"error": "ValueError"' in logged and '"endpoint": "test"' in logged
    assert "Traceback" not in logged and "Dolores" not in logged
    assert "/boom" not in logged  # paths can be capabilities (media URLs)


@pytest.mark.parametrize(("headers", "expected"), [
    ([], None),
    ([(b"content-length", b"12")], 12),
    ([(b"Content-Length", b"12"), (b"content-length", b"12")], 12),
    ([(b"content-length", b"12"), (b"content-length", b"13")], -1),
    ([(b"content-length", b"-1")], -1),
    ([(b"content-length", b"1e9")], -1),
    ([(b"content-length", b"9" * 30)], -1),
])
def test_declared_length_is_plain_digits_and_unambiguous(
        headers: list[tuple[bytes, bytes]], expected: int | None) -> None:
    assert declared_length(headers) == expected
