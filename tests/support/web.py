"""The browser test rig of the web companion (tests/web/): a built bundle, the loopback
server that sends the app's headers (the real ``medcrypt ui`` server, recording what it
was asked), Debian's chromium through Playwright, and a folder of screenshots kept as
test artifacts.

Locally, a machine without node or chromium skips these tests with the reason; under CI
(``CI=true``, or ``MEDCRYPT_REQUIRE_BROWSER=1``) it fails them: the web companion's
claims are tested in a real browser or not at all.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock
from typing import Any

import pytest

from medcrypt.companion.webui.bundle import Bundle
from medcrypt.companion.webui.location import load_local
from medcrypt.companion.webui.server import UiServer, _Handler

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
ARTIFACTS = ROOT / "test-artifacts" / "web"
AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
REQUIRE = os.environ.get("CI") == "true" or os.environ.get("MEDCRYPT_REQUIRE_BROWSER") == "1"
BUNDLE_LINE = re.compile(r"^web build: bundle sha256 ([0-9a-f]{64})$", re.MULTILINE)


def unavailable(reason: str) -> None:
    """Skip locally; fail under CI, where a missing browser or node is a broken machine."""
    if REQUIRE:
        pytest.fail(f"{reason} (required under CI)")
    pytest.skip(reason)


def chromium_path() -> str:
    """Debian's chromium, installed by scripts/chromium.sh when missing and root."""
    done = subprocess.run(["bash", str(ROOT / "scripts" / "chromium.sh")],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        unavailable(f"no chromium: {done.stderr.strip()}")
    return done.stdout.strip()


@dataclass(frozen=True)
class Build:
    """One run of the reproducible build."""

    outdir: Path
    bundle_hash: str
    output: str


def build_web(outdir: Path, web: Path = WEB) -> Build:
    """``scripts/web.sh --outdir`` (npm ci if needed, then web/build.mjs)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        unavailable("node and npm are not installed")
    script = web.parent / "scripts" / "web.sh"
    done = subprocess.run(["bash", str(script), "--outdir", str(outdir)],
                          capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"the web build failed:\n{done.stdout}\n{done.stderr}")
    found = BUNDLE_LINE.search(done.stdout)
    assert found, done.stdout
    return Build(outdir=outdir, bundle_hash=found.group(1), output=done.stdout)


def copy_web_tree(dest: Path) -> Path:
    """A copy of web/ (sources, build script, locks) sharing web/node_modules."""
    ignore = shutil.ignore_patterns("node_modules", "dist", "build-test")
    shutil.copytree(WEB, dest, ignore=ignore)
    (dest / "node_modules").symlink_to(WEB / "node_modules", target_is_directory=True)
    return dest


def build_copy(web_copy: Path, outdir: Path) -> Build:
    """``node build.mjs`` in a copy of web/ (web/node_modules installed by build_web)."""
    done = subprocess.run(["node", "build.mjs", "--outdir", str(outdir)], cwd=web_copy,
                          capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"the web build of {web_copy} failed:\n{done.stdout}\n{done.stderr}")
    found = BUNDLE_LINE.search(done.stdout)
    assert found, done.stdout
    return Build(outdir=outdir, bundle_hash=found.group(1), output=done.stdout)


def build_variant(tmp: Path, tagline: str, worker_patch: str = "") -> Build:
    """A second, different build: the English tagline changed (a clinic's update), and
    ``worker_patch`` appended to the service worker's source if given."""
    copy = copy_web_tree(tmp / "web-variant")
    strings = copy / "src" / "app" / "strings" / "en.ts"
    text = strings.read_text()
    start = text.index('"app.tagline": "') + len('"app.tagline": "')
    strings.write_text(text[:start] + tagline + text[text.index('"', start):])
    if worker_patch:
        worker = copy / "src" / "app" / "sw" / "worker.ts"
        worker.write_text(worker.read_text() + worker_patch)
    return build_copy(copy, tmp / "dist-variant")


def run_in_node(tmp: Path, module: str, body: str) -> Any:
    """Bundle ``body`` (ES module code that may import names from ``web/<module>``) with
    esbuild for Node, run it, and return the JSON it writes to stdout."""
    import json

    entry = tmp / "node-entry.mjs"
    entry.write_text(f"import * as m from {json.dumps(str(WEB / module))};\n{body}\n")
    bundled = tmp / "node-entry.bundle.mjs"
    subprocess.run([str(WEB / "node_modules" / ".bin" / "esbuild"), str(entry), "--bundle",
                    "--format=esm", "--platform=node", f"--outfile={bundled}",
                    "--log-level=error"], check=True, cwd=WEB)
    done = subprocess.run(["node", str(bundled)], capture_output=True, text=True, check=True,
                          timeout=120)
    return json.loads(done.stdout)


@dataclass
class Seen:
    """One request as the server received it (path without the launch secret)."""

    method: str
    path: str
    host: str


@dataclass
class RecordingServer:
    """The ``medcrypt ui`` server, plus the list of every request it answered."""

    server: UiServer
    seen: list[Seen] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def app_url(self) -> str:
        return self.server.app_url

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def swap(self, bundle: Bundle) -> None:
        """Serve another build from now on (a clinic publishing an update)."""
        self.server.bundle = bundle


@contextmanager
def serve(bundle_dir: Path, port: int = 0) -> Iterator[RecordingServer]:
    """The real server over a checked bundle, in a thread, recording requests."""
    record = RecordingServer(server=UiServer(load_local(bundle_dir), port=port))
    lock = Lock()
    secret = record.server.secret

    class Recording(_Handler):
        def parse_request(self) -> bool:
            ok = super().parse_request()
            if ok:
                with lock:
                    record.seen.append(Seen(self.command, self.path.replace(f"/{secret}/", "/", 1),
                                            self.headers.get("Host", "")))
            return ok

    record.server.RequestHandlerClass = Recording
    record.server.start()
    try:
        yield record
    finally:
        record.server.shutdown()
        record.server.server_close()


class RequestLog:
    """Every request a browser context made, with its response headers once known."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.violations: list[Any] = []

    def attach(self, context: Any) -> None:
        context.on("request", lambda req: self.requests.append(
            {"url": req.url, "method": req.method, "type": req.resource_type, "request": req}))

    def urls(self) -> list[str]:
        return [r["url"] for r in self.requests]


# Collected in every page before its own scripts run: CSP violations (styles, scripts,
# Trusted Types) that would otherwise only reach the console.
VIOLATION_PROBE = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push({directive: e.violatedDirective, blocked: e.blockedURI,
                               sample: e.sample});
});
"""


# Resolves once the page's registration has an activated worker.
WORKER_ACTIVATED = """navigator.serviceWorker.ready.then((r) => r.active.state === 'activated'
  || new Promise((resolve) => r.active.addEventListener('statechange',
       (e) => e.target.state === 'activated' && resolve(true))))"""


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/web/ and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def overflowing(page: Any) -> list[str]:
    """Elements wider than the viewport or whose content spills sideways."""
    return list(page.evaluate("""() => {
      const out = [];
      const width = document.documentElement.clientWidth;
      for (const el of document.querySelectorAll('body *')) {
        const box = el.getBoundingClientRect();
        if (box.width === 0) continue;
        if (box.right > width + 1 || box.left < -1 || el.scrollWidth > el.clientWidth + 1
            && getComputedStyle(el).overflowX === 'visible' && el.clientWidth > 0)
          out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' ' +
                   Math.round(box.left) + '..' + Math.round(box.right) + '/' + width);
      }
      return out;
    }"""))


READY = "html[data-ready='1']"


def open_app(page: Any, server: RecordingServer, suffix: str = "") -> None:
    """Open the app (plus ``suffix``, e.g. a fragment) and wait until it has started."""
    page.goto(server.app_url + suffix)
    page.wait_for_selector(READY)


def controlled(page: Any, server: RecordingServer) -> None:
    """Load until the service worker controls the page (the first load only installs it)."""
    open_app(page, server)
    page.evaluate(WORKER_ACTIVATED)
    page.reload()
    page.wait_for_selector(READY)
    assert page.evaluate("!!navigator.serviceWorker.controller")


def visit_every_screen(page: Any) -> None:
    """Click through the navigation, waiting for each screen to be the current one."""
    for screen in page.eval_on_selector_all("nav button", "bs => bs.map(b => b.dataset.screen)"):
        page.click(f"nav button[data-screen={screen}]")
        page.wait_for_selector(f"nav button[data-screen={screen}][aria-current=page]")
