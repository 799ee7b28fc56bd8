"""``medcrypt web-verify URL --expect HASH``: check a published web bundle from outside.

Anyone - a patient's relative, an auditor, the clinic itself - fetches the bundle from
wherever the clinic publishes it and checks it against the hash of the reproducible
build (ADR 0029; the rule is in bundle.py). It also checks that the app page is served
with the Content-Security-Policy header, since without it the no-network promise is gone
even with the right files.

The fetcher is urllib with a timeout and a size cap per file; redirects are followed only
within the same origin; schemes other than http and https are refused.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPMessage
from typing import IO
from urllib.parse import urljoin, urlsplit

from medcrypt.companion.i18n import N_, error
from medcrypt.companion.webui.bundle import INDEX, SUMS, Bundle, check_bundle
from medcrypt.companion.webui.server import CSP, CSP_ISSUE
from medcrypt.crypto.errors import ConfigError, PolicyViolation, TransportError

MAX_FILE = 16 * 1024 * 1024
TIMEOUT = 20.0


class MissingPolicy(PolicyViolation):
    """The files match, but the app page is not served with the required CSP header."""


@dataclass(frozen=True)
class Verified:
    bundle: Bundle
    csp: str


def bundle_root(url: str) -> str:
    """The URL of the folder that holds ``bundle.sha256sums`` (trailing slash added)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise error(ConfigError, N_("give the http(s) address of the published bundle's folder"),
                    key="URL")
    if parts.fragment:
        raise error(ConfigError, N_("the address must not carry a fragment"), key="URL")
    return url if url.endswith("/") else url + "/"


class _SameOrigin(urllib.request.HTTPRedirectHandler):
    def __init__(self, origin: tuple[str, str]) -> None:
        self.origin = origin

    def redirect_request(  # noqa: PLR0917 - the stdlib's signature
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
        headers: HTTPMessage, newurl: str,
    ) -> urllib.request.Request | None:
        target = urlsplit(newurl)
        if (target.scheme, target.netloc) != self.origin:
            raise error(TransportError, N_("the bundle redirects to another origin"))
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _fetcher(root: str) -> tuple[dict[str, str], Callable[[str], bytes]]:
    parts = urlsplit(root)
    opener = urllib.request.build_opener(_SameOrigin((parts.scheme, parts.netloc)))
    seen_headers: dict[str, str] = {}

    def fetch(path: str) -> bytes:
        url = urljoin(root, path)
        request = urllib.request.Request(url, headers={"Cache-Control": "no-cache"})  # noqa: S310 - scheme checked in bundle_root
        try:
            with opener.open(request, timeout=TIMEOUT) as response:
                data = response.read(MAX_FILE + 1)
                if path == INDEX:
                    seen_headers["csp"] = response.headers.get("Content-Security-Policy", "")
        except urllib.error.HTTPError as exc:
            raise error(TransportError, N_("{path}: HTTP {code}"), path=path,
                        code=exc.code) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", None) or type(exc).__name__
            raise error(TransportError, N_("{path}: cannot fetch ({reason})"), path=path,
                        reason=reason) from None
        if len(data) > MAX_FILE:
            raise error(TransportError, N_("{path}: larger than {limit} bytes"), path=path,
                        limit=MAX_FILE)
        return bytes(data)

    return seen_headers, fetch


def web_verify(url: str, expect: str) -> Verified:
    """Fetch the bundle under ``url`` and check it against ``expect``; raise on any gap."""
    root = bundle_root(url)
    seen, fetch = _fetcher(root)
    sums = fetch(SUMS)
    bundle = check_bundle(sums, expect.strip().lower(), fetch)
    csp = seen.get("csp", "")
    # Exactly the policy medcrypt ui sends (or the issue's alone): a directive added after
    # it could open a channel (img-src *, say), so anything else fails.
    if csp not in {CSP_ISSUE, CSP}:
        raise error(MissingPolicy, N_("the files match bundle {bundle}, but {index} is not served "
                                      "with exactly the required Content-Security-Policy "
                                      "header"), bundle=bundle.sha256, index=INDEX)
    return Verified(bundle=bundle, csp=csp)
