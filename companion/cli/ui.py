"""``medcrypt ui`` and ``medcrypt web-verify``: serving and checking the web companion.

``ui`` serves the built bundle on 127.0.0.1 (companion/webui/server.py says what it
checks) and prints the address with this launch's secret; ``web-verify`` fetches a
published bundle and checks it against the reproducible build's hash (ADR 0029).
Standard library only: a companion-only install has everything these need.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

from medcrypt.crypto.errors import ConfigError

PORT_FILE = "ui-port"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("ui", help="serve the web companion on 127.0.0.1 and open it")
    p.add_argument("--port", type=int, metavar="N",
                   help="port to listen on (default: one picked at random the first time "
                        "and kept in the companion home, so the browser's keystore - kept "
                        "per origin - is found again)")
    p.add_argument("--bundle", metavar="DIR",
                   help="a built bundle (default: the installed one, or web/dist in a checkout)")
    p.add_argument("--no-browser", action="store_true", help="print the address, open nothing")
    p.set_defaults(handler=run_ui)

    v = sub.add_parser("web-verify", help="check a published web bundle against its hash")
    v.add_argument("url", metavar="URL", help="the folder the bundle is published in")
    v.add_argument("--expect", required=True, metavar="HASH",
                   help="the bundle SHA-256 the reproducible build printed")
    v.set_defaults(handler=run_verify)


def _remembered_port(home: Path) -> int | None:
    try:
        text = (home / PORT_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() and 1024 <= int(text) <= 65535 else None


def _remember_port(home: Path, port: int) -> None:
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    (home / PORT_FILE).write_text(f"{port}\n")


def run_ui(args: argparse.Namespace) -> int:
    from medcrypt.companion.env import resolve_home
    from medcrypt.companion.webui.location import find_bundle, load_local
    from medcrypt.companion.webui.server import UiServer

    bundle = load_local(find_bundle(args.bundle))
    home = resolve_home(args.home)
    port = args.port if args.port is not None else _remembered_port(home)
    if port is not None and not 0 <= port <= 65535:
        raise ConfigError("--port", "a port is 0-65535")
    try:
        server = UiServer(bundle, port=port or 0)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise ConfigError("--port", f"127.0.0.1:{port} is in use; stop what holds it, or pass "
                          "--port 0 for a new one (a new port is a new origin: the browser's "
                          "keystore of the old one is not found there)") from None
    if args.port is None and port is None:
        _remember_port(home, server.port)
    print(f"MedCrypt web companion, bundle {bundle.sha256}")
    print(f"Open: {server.app_url}")
    print("Stop with Ctrl-C.", flush=True)
    if not args.no_browser and not os.environ.get("MEDCRYPT_NO_BROWSER"):
        import webbrowser

        webbrowser.open(server.app_url)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from medcrypt.companion.webui.verify import web_verify

    result = web_verify(args.url, args.expect)
    count = len(result.bundle.files)
    print(f"verified: {count} files and the Content-Security-Policy match bundle "
          f"{result.bundle.sha256}")
    sys.stdout.flush()
    return 0
