"""`medcrypt web-verify URL --expect HASH` against the loopback server: the reproducible
build's hash verifies; a swapped asset, a swapped listing or a missing policy fails."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from medcrypt.companion.cli import main
from medcrypt.companion.webui.bundle import Bundle
from medcrypt.companion.webui.location import load_local
from tests.support import web


def verify(url: str, expect: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["web-verify", url, "--expect", expect])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_the_built_hash_verifies(web_build: web.Build, web_server: web.RecordingServer,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out = verify(web_server.base_url, web_build.bundle_hash, capsys)
    assert code == 0, out
    assert f"match bundle {web_build.bundle_hash}" in out
    # The check fetched every listed file and the listing itself.
    fetched = {s.path.lstrip("/") for s in web_server.seen}
    assert set(web_server.server.bundle.files) | {"bundle.sha256sums"} <= fetched


def test_a_swapped_asset_fails(web_build: web.Build, web_server: web.RecordingServer,
                               tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = load_local(web.build_variant(tmp_path, "Swapped in by the server").outdir)
    honest = web_server.server.bundle
    main_js = next(p for p in honest.files if p.startswith("app/main-"))
    other_js = next(p for p in other.files if p.startswith("app/main-"))
    # The server keeps the honest listing and names, and serves other code under them.
    web_server.swap(Bundle(sha256=honest.sha256, sums=honest.sums,
                           files={**honest.files, main_js: other.files[other_js]}))
    code, out = verify(web_server.base_url, web_build.bundle_hash, capsys)
    assert code == 3
    assert f"{main_js} differs" in out
    # The whole other build, consistent in itself, is not the expected one either.
    web_server.swap(other)
    code, out = verify(web_server.base_url, web_build.bundle_hash, capsys)
    assert code == 3
    assert "does not hash to the expected bundle hash" in out


def test_a_wrong_or_malformed_expectation_fails(web_server: web.RecordingServer,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert verify(web_server.base_url, "f" * 64, capsys)[0] == 3
    assert verify(web_server.base_url, "not-a-hash", capsys)[0] == 3
    assert verify("file:///etc/", "f" * 64, capsys)[0] == 2


@pytest.fixture
def plain_static_host(web_build: web.Build) -> Iterator[str]:
    """A static host that sends the right files without the CSP header."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(web_build.outdir))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_right_files_without_the_policy_fail(web_build: web.Build, plain_static_host: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, out = verify(plain_static_host, web_build.bundle_hash, capsys)
    assert code == 4
    assert "the files match" in out and "Content-Security-Policy" in out


def test_an_unreachable_origin_is_a_transport_error(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out = verify(f"http://127.0.0.1:{port}/", "f" * 64, capsys)
    assert code == 5, out
