"""`medcrypt ui`'s server without a browser: the Host header (DNS rebinding), the launch
secret, the methods, the headers on every response, and the command itself."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from medcrypt.companion.webui.server import CSP, CSP_ISSUE, WORKER_CSP
from tests.support import web


def _get(port: int, path: str, host: str | None = None, method: str = "GET",
         body: bytes | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Host": host} if host is not None else {}
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_the_csp_is_the_issues_verbatim_then_only_installability() -> None:
    assert CSP_ISSUE == ("default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; "
                         "connect-src 'none'; form-action 'none'; base-uri 'none'; "
                         "frame-ancestors 'none'; require-trusted-types-for 'script'")
    assert CSP == CSP_ISSUE + "; manifest-src 'self'; img-src 'self'"


def test_every_file_and_every_error_carries_the_policy(web_server: web.RecordingServer) -> None:
    port = web_server.server.port
    secret = web_server.server.secret
    for path in [*web_server.server.bundle.files, "bundle.sha256sums", "", "app/"]:
        response = _get(port, f"/{secret}/{path}")
        assert response.status == 200, path
        expected = WORKER_CSP if path == "app/sw.js" else CSP
        assert response.getheader("Content-Security-Policy") == expected, path
        assert response.getheader("X-Content-Type-Options") == "nosniff"
    for status, response in [(404, _get(port, f"/{secret}/nothing-here")),
                             (404, _get(port, "/app/")),
                             (421, _get(port, f"/{secret}/app/", host="evil.example"))]:
        assert response.status == status
        assert response.getheader("Content-Security-Policy") == CSP


def test_host_header_must_be_loopback_with_the_port(web_server: web.RecordingServer) -> None:
    port = web_server.server.port
    app = f"/{web_server.server.secret}/app/"
    assert _get(port, app, host=f"127.0.0.1:{port}").status == 200
    assert _get(port, app, host=f"localhost:{port}").status == 200
    # A rebinding name resolves to 127.0.0.1 but carries its own Host.
    for host in ("attacker.example", f"attacker.example:{port}", "127.0.0.1",
                 f"127.0.0.1:{port + 1}", f"localhost.:{port}", ""):
        assert _get(port, app, host=host).status == 421, host


def test_without_the_secret_nothing_is_served(web_server: web.RecordingServer) -> None:
    port = web_server.server.port
    secret = web_server.server.secret
    wrong = ("x" if secret[0] != "x" else "y") + secret[1:]
    for path in ("/", "/app/", "/bundle.sha256sums", f"/{wrong}/app/", f"/{secret}",
                 f"/{secret}x/app/", f"/{secret}/../{secret}/app/", f"/{secret}/app/%2e%2e/"):
        assert _get(port, path).status == 404, path


def test_only_get_and_head(web_server: web.RecordingServer) -> None:
    port = web_server.server.port
    share = f"/{web_server.server.secret}/app/share"
    response = _get(port, share, method="POST", body=b"text=%5BMEDCRYPT%3Av3%3AAAAA%5D")
    assert response.status == 405
    assert response.getheader("Allow") == "GET, HEAD"
    assert _get(port, f"/{web_server.server.secret}/app/", method="HEAD").status == 200


@pytest.fixture
def ui_home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def _launch(home: Path, bundle: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "MEDCRYPT_HOME": str(home), "MEDCRYPT_LANG": "en"}  # "Open: " read
    return subprocess.Popen(
        [sys.executable, "-c", "from medcrypt.companion.cli import entry; entry()",
         "ui", "--no-browser", "--bundle", str(bundle), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.fixture
def launch(ui_home: Path) -> Iterator[object]:
    started: list[subprocess.Popen[str]] = []

    def run(bundle: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
        proc = _launch(ui_home, bundle, *extra)
        started.append(proc)
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        url = re.search(r"Open: (http://127\.0\.0\.1:\d+/[A-Za-z0-9_-]+/app/)", "".join(lines))
        assert url, lines
        return proc, url.group(1)

    yield run
    for proc in started:
        proc.terminate()
        proc.wait(timeout=10)


def test_medcrypt_ui_serves_keeps_its_port_and_changes_its_secret(
        web_build: web.Build, ui_home: Path, launch) -> None:  # type: ignore[no-untyped-def]
    proc, url = launch(web_build.outdir)
    port = int(url.split(":")[2].split("/")[0])
    secret = url.split("/")[3]
    assert (ui_home / "ui-port").read_text().strip() == str(port)
    assert _get(port, f"/{secret}/app/").status == 200
    assert _get(port, f"/{secret}/app/", host=f"rebind.example:{port}").status == 421
    assert _get(port, "/app/").status == 404
    proc.terminate()
    proc.wait(timeout=10)
    _, url2 = launch(web_build.outdir)
    # The same origin (the browser's keystore is per origin), a new secret.
    assert url2.split("/")[2] == url.split("/")[2]
    assert url2.split("/")[3] != secret
    assert _get(port, f"/{secret}/app/").status == 404


def test_medcrypt_ui_refuses_a_busy_port_in_one_line(web_build: web.Build, ui_home: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        proc = _launch(ui_home, web_build.outdir, "--port", str(port))
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert len(err.strip().splitlines()) == 1
    assert f"127.0.0.1:{port} is in use" in err


def test_medcrypt_ui_refuses_a_tampered_bundle(web_build: web.Build, tmp_path: Path) -> None:
    copy = tmp_path / "tampered"
    shutil.copytree(web_build.outdir, copy)
    main = next((copy / "app").glob("main-*.js"))
    main.write_bytes(main.read_bytes() + b"\n;fetch('https://evil.example/')")
    proc = _launch(tmp_path / "home", copy)
    start = time.monotonic()
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - start < 30
    assert proc.returncode == 3
    assert f"app/{main.name} differs" in err
    assert "Open:" not in out
