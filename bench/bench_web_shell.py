"""The web companion's shell in headless Debian chromium, served by `medcrypt ui`'s server.

Rows, each a median over fresh browser contexts (an empty origin every round), measured
in the same run and interleaved round by round so load changes hit every row alike:
- anchor: navigating a fresh context to a tiny static file of the same server
  (`bundle.sha256sums`): browser context, loopback HTTP, no script;
- cold open: a fresh context to the app until it has started (`data-ready`), service
  worker registration included;
- warm open: a reload served by the service worker's cache;
- update switch: from the click on "Switch" to the new version started (leaving for the
  entry page, the waiting worker activating, app/ again).
Also the gzipped bundle size the build prints (the issue's limit: 400 KiB). Before
web-proto's crypto is imported by the app, the bundle holds no libsodium yet.

    python -m bench.run web_shell [--rounds 9]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.harness import load_average
from medcrypt.companion.webui.location import load_local
from medcrypt.companion.webui.server import UiServer

ROOT = Path(__file__).resolve().parents[1]
READY = "html[data-ready='1']"


def _build(web: Path, outdir: Path) -> tuple[str, str]:
    """node build.mjs (web/node_modules from scripts/web.sh); (gzipped KiB, bundle hash)."""
    done = subprocess.run(["node", "build.mjs", "--outdir", str(outdir)], cwd=web,
                          capture_output=True, text=True, check=True)
    size = re.search(r"gzipped ([0-9.]+) KiB", done.stdout)
    digest = re.search(r"bundle sha256 ([0-9a-f]{64})", done.stdout)
    assert size and digest, done.stdout
    return size.group(1), digest.group(1)


def _variant(tmp: Path) -> Path:
    import shutil

    copy = tmp / "web"
    shutil.copytree(ROOT / "web", copy,
                    ignore=shutil.ignore_patterns("node_modules", "dist", "build-test"))
    (copy / "node_modules").symlink_to(ROOT / "web" / "node_modules")
    strings = copy / "src" / "app" / "strings" / "en.ts"
    strings.write_text(strings.read_text().replace("Your keys stay on this device.",
                                                   "Your keys stay here (bench update)."))
    return copy


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    args, _ = parser.parse_known_args(argv)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("\n## web shell: skipped (playwright is not installed)")
        return
    chromium = subprocess.run(["bash", str(ROOT / "scripts" / "chromium.sh")],
                              capture_output=True, text=True, check=False).stdout.strip()
    if not chromium:
        print("\n## web shell: skipped (no chromium)")
        return
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        size, first = _build(ROOT / "web", tmp / "a")
        _, second = _build(_variant(tmp), tmp / "b")
        bundles = load_local(tmp / "a"), load_local(tmp / "b")
        rows: dict[str, list[float]] = {"anchor": [], "cold": [], "warm": [], "switch": []}
        before = load_average()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, headless=True)
            for _ in range(args.rounds):
                server = UiServer(bundles[0])
                server.start()
                try:
                    ctx = browser.new_context()
                    page = ctx.new_page()
                    start = time.perf_counter()
                    page.goto(server.base_url + "bundle.sha256sums")
                    rows["anchor"].append(time.perf_counter() - start)
                    ctx.close()
                    ctx = browser.new_context()
                    page = ctx.new_page()
                    start = time.perf_counter()
                    page.goto(server.app_url)
                    page.wait_for_selector(READY)
                    rows["cold"].append(time.perf_counter() - start)
                    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
                    page.wait_for_timeout(200)
                    start = time.perf_counter()
                    page.reload()
                    page.wait_for_selector(READY)
                    rows["warm"].append(time.perf_counter() - start)
                    server.bundle = bundles[1]
                    page.evaluate("navigator.serviceWorker.getRegistration()"
                                  ".then((r) => r.update())")
                    page.wait_for_selector("#update-dialog[open]", timeout=20000)
                    start = time.perf_counter()
                    page.click("#update-dialog [data-action=switch]")
                    page.wait_for_function(
                        "(h) => document.querySelector('meta[name=medcrypt-bundle-sha256]')"
                        "?.content === h && document.documentElement.dataset.ready === '1'",
                        arg=second, timeout=20000)
                    rows["switch"].append(time.perf_counter() - start)
                    ctx.close()
                finally:
                    server.shutdown()
                    server.server_close()
            browser.close()
        after = load_average()
    anchor = statistics.median(rows["anchor"])
    print(f"\n## web shell in headless chromium ({args.rounds} rounds; "
          f"load {before} -> {after})")
    print(f"{'case':<52} {'median':>10} {'ratio':>8}")
    for name, label in (("anchor", "anchor: static file, fresh context"),
                        ("cold", "cold open to started app, fresh context"),
                        ("warm", "warm open (reload from the service worker)"),
                        ("switch", "update switch after consent")):
        median = statistics.median(rows[name])
        print(f"{label:<52} {median * 1000:>8.1f}ms {median / anchor:>7.2f}x")
    print(f"gzipped bundle: {size} KiB (limit 400 KiB); bundle {first[:16]}…")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
