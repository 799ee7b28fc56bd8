"""A loopback fake of OSV's query API, the vulnerability service that
scripts/audit_deps.py has pip-audit ask (``--osv-url``).

It speaks the API as api.osv.dev does (https://google.github.io/osv.dev/post-v1-query/):
``POST /v1/query`` with ``{"package": {"name", "ecosystem"}, "version"}`` answers
``{"vulns": [record, ...]}`` with every advisory record whose affected ranges or listed
versions cover that version, and ``{}`` when none does. Records follow the OSV schema
1.x, the only one pip-audit reads (pip_audit/_service/osv.py).

Three behaviours, for the three ways a real service is met:
- ``answer``: as above;
- ``error``: every query gets an HTTP error status (a proxy that refuses, an outage);
- ``silent``: the connection is accepted and never answered (a firewall that drops).

Every query is recorded, so a test can tell that each pinned package was really asked
about rather than skipped.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from packaging.utils import canonicalize_name
from packaging.version import Version

Behaviour = Literal["answer", "error", "silent"]

#: The advisory issue 12 names: Pillow bundled a libwebp with a heap buffer overflow
#: (CVE-2023-4863); fixed in Pillow 10.0.1, so ``pillow>=10`` admitted it. The record
#: as the advisory databases publish it in OSV form, trimmed to the fields pip-audit
#: reads (id, aliases, summary, affected ranges).
PILLOW_LIBWEBP: dict[str, Any] = {
    "schema_version": "1.4.0",
    "id": "GHSA-j7hp-h8jx-5ppr",
    "aliases": ["CVE-2023-4863"],
    "summary": "libwebp: OOB write in BuildHuffmanTable",
    "affected": [{
        "package": {"name": "pillow", "ecosystem": "PyPI", "purl": "pkg:pypi/pillow"},
        "ranges": [{"type": "ECOSYSTEM",
                    "events": [{"introduced": "0"}, {"fixed": "10.0.1"}]}],
    }],
}


def advisory(advisory_id: str, package: str, fixed: str, summary: str) -> dict[str, Any]:
    """An OSV record affecting every ``package`` release before ``fixed``."""
    return {
        "schema_version": "1.4.0", "id": advisory_id, "aliases": [], "summary": summary,
        "affected": [{"package": {"name": package, "ecosystem": "PyPI"},
                      "ranges": [{"type": "ECOSYSTEM",
                                  "events": [{"introduced": "0"}, {"fixed": fixed}]}]}],
    }


def _covers(record: dict[str, Any], name: str, version: Version) -> bool:
    for affected in record.get("affected", []):
        package = affected.get("package", {})
        if package.get("ecosystem") != "PyPI" or canonicalize_name(package["name"]) != name:
            continue
        if str(version) in affected.get("versions", []):
            return True
        for rng in affected.get("ranges", []):
            if rng.get("type") != "ECOSYSTEM":
                continue
            inside = False
            for event in rng["events"]:  # in order, as the schema requires
                if "introduced" in event:
                    start = event["introduced"]
                    inside = inside or start == "0" or version >= Version(start)
                elif ("fixed" in event and version >= Version(event["fixed"])) or (
                        "last_affected" in event and version > Version(event["last_affected"])):
                    inside = False
            if inside:
                return True
    return False


@dataclass
class FakeOsv:
    """The running fake: its URL, what it was asked, and what it knows."""

    url: str
    records: list[dict[str, Any]]
    queries: list[tuple[str, str]] = field(default_factory=list)

    def answer(self, name: str, version: str) -> dict[str, Any]:
        self.queries.append((canonicalize_name(name), version))
        found = [r for r in self.records if _covers(r, canonicalize_name(name), Version(version))]
        return {"vulns": found} if found else {}


@contextmanager
def fake_osv(records: list[dict[str, Any]] | None = None,
             behaviour: Behaviour = "answer", status: int = 503) -> Iterator[FakeOsv]:
    """Serve OSV's query API on 127.0.0.1 (port 0) until the block ends."""
    release = threading.Event()
    state: dict[str, FakeOsv] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if behaviour == "silent":
                release.wait(30)
                return
            if self.path != "/v1/query" or behaviour == "error":
                self.send_error(404 if self.path != "/v1/query" else status)
                return
            query = json.loads(body)
            payload = json.dumps(state["osv"].answer(
                query["package"]["name"], query["version"])).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["osv"] = FakeOsv(f"http://127.0.0.1:{server.server_address[1]}/v1/query",
                           list(records or []))
    thread = threading.Thread(target=server.serve_forever, name="fake-osv", daemon=True)
    thread.start()
    try:
        yield state["osv"]
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
