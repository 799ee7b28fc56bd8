"""``medcrypt ui``: the web companion served on 127.0.0.1 for a desktop (ADR 0029).

Standard library only (the companion install has no bot dependencies). What it does:

* listens on 127.0.0.1 only, on a port picked at random the first time and remembered in
  the companion home (``ui-port``), because a browser keeps a keystore per *origin*: a new
  port every launch would strand the user's keys in an origin nothing opens again;
* puts a per-launch secret (``secrets.token_urlsafe``) first in every path, so another
  local user or a page guessing ports gets nothing; compared in constant time;
* refuses a request whose ``Host`` is not ``127.0.0.1:PORT`` or ``localhost:PORT``, with
  a plain error (DNS rebinding: a hostile name that resolves to 127.0.0.1 carries its own
  Host);
* serves only the files the checked bundle lists, from memory (checked against
  ``bundle.sha256sums`` at start, bundle.py), GET and HEAD only;
* sends the issue's CSP verbatim on every response, with ``manifest-src 'self'`` and
  ``img-src 'self'`` after it (installability, measured: ADR 0029), and the service
  worker's own policy on ``app/sw.js``;
* logs nothing about requests (paths hold the secret; fragments never arrive).
"""

from __future__ import annotations

import hmac
import mimetypes
import secrets
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from medcrypt.companion.webui.bundle import INDEX, SUMS, WORKER, Bundle

# The issue's policy, verbatim and in order; then only what installing the app needs.
CSP_ISSUE = ("default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'none'; "
             "form-action 'none'; base-uri 'none'; frame-ancestors 'none'; "
             "require-trusted-types-for 'script'")
# Measured in Chromium (tests/web/shell/test_install.py): without manifest-src the manifest
# is blocked; without img-src 'self' its icon is, and the app is not installable.
CSP = CSP_ISSUE + "; manifest-src 'self'; img-src 'self'"
# The worker fetches the assets it precaches, and nothing else.
WORKER_CSP = "default-src 'none'; connect-src 'self'"
TYPES = {".js": "text/javascript; charset=utf-8", ".html": "text/html; charset=utf-8",
         ".webmanifest": "application/manifest+json", ".svg": "image/svg+xml",
         ".sha256sums": "text/plain; charset=utf-8", ".wasm": "application/wasm"}
NO_CACHE = {INDEX, WORKER, SUMS, "index.html"}


def headers_for(path: str) -> dict[str, str]:
    """The response headers of one bundle file (also what a static host should send)."""
    suffix = path[path.rfind("."):] if "." in path else ""
    return {
        "Content-Type": (TYPES.get(suffix) or mimetypes.guess_type(path)[0]
                         or "application/octet-stream"),
        "Content-Security-Policy": WORKER_CSP if path == WORKER else CSP,
        "Cache-Control": "no-cache" if path in NO_CACHE else "public, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
    }


class UiServer(ThreadingHTTPServer):
    """The loopback server; ``bundle`` may be replaced while it runs (a new build)."""

    daemon_threads = True

    def __init__(self, bundle: Bundle, port: int = 0, secret: str | None = None) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.bundle = bundle
        self.secret = secret or secrets.token_urlsafe(24)
        self.port = int(self.server_address[1])
        self.hosts = {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}

    @property
    def base_url(self) -> str:
        """The bundle's root (entry page, bundle.sha256sums) for this launch."""
        return f"http://127.0.0.1:{self.port}/{self.secret}/"

    @property
    def app_url(self) -> str:
        return self.base_url + "app/"

    def handle_error(self, request: object, client_address: object) -> None:
        """A browser that drops a connection (a page navigating away) is normal; anything
        else is named by its type on one line, never with the request (it holds the
        secret)."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        sys.stderr.write(f"medcrypt ui: a request failed ({type(error).__name__})\n")

    def start(self) -> threading.Thread:
        """Serve on a daemon thread (tests); ``serve_forever`` for the CLI."""
        thread = threading.Thread(target=self.serve_forever, name="medcrypt-ui", daemon=True)
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    server: UiServer
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "medcrypt-ui"

    def log_message(self, format: str, *args: object) -> None:
        """Nothing about requests is logged: every path carries the launch secret."""

    def _plain(self, status: HTTPStatus, text: str, *, head: bool = False) -> None:
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", "GET, HEAD")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _resolve(self) -> str | None:
        """The bundle path this request names, or None once an error was sent."""
        if self.headers.get("Host", "") not in self.server.hosts:
            self._plain(HTTPStatus.MISDIRECTED_REQUEST,
                        "medcrypt ui: wrong Host header; open the address medcrypt ui printed")
            return None
        path = urlsplit(self.path).path
        prefix, _, rest = path.lstrip("/").partition("/")
        secret_ok = hmac.compare_digest(prefix.encode(), self.server.secret.encode())
        if not (secret_ok and path.startswith(f"/{prefix}/")):
            self._plain(HTTPStatus.NOT_FOUND,
                        "medcrypt ui: not found; open the address medcrypt ui printed")
            return None
        if rest in {"", "app/"}:
            rest += "index.html"
        if rest not in self.server.bundle.files and rest != SUMS:
            self._plain(HTTPStatus.NOT_FOUND, "medcrypt ui: not found")
            return None
        return rest

    def _serve(self, *, head: bool) -> None:
        path = self._resolve()
        if path is None:
            return
        bundle = self.server.bundle
        body = bundle.sums if path == SUMS else bundle.files[path]
        self.send_response(HTTPStatus.OK)
        for name, value in headers_for(path).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _refuse(self) -> None:
        # A body is never read, so a share POST without the worker loses nothing here.
        self.close_connection = True
        self._plain(HTTPStatus.METHOD_NOT_ALLOWED, "medcrypt ui: only GET and HEAD")

    # http.server dispatches on these names.
    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse  # noqa: N815
