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

from medcrypt.companion.i18n import N_, _, error, ngettext
from medcrypt.crypto.errors import ConfigError

PORT_FILE = "ui-port"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    about = _("serve the web companion on 127.0.0.1 and open it")
    p = sub.add_parser("ui", help=about, description=about)
    p.add_argument("--port", type=int, metavar="N",
                   help=_("port to listen on (default: one picked at random the first time "
                          "and kept in the companion home, so the browser's keystore - kept "
                          "per origin - is found again)"))
    p.add_argument("--bundle", metavar="DIR",
                   help=_("a built bundle (default: the installed one, or web/dist in a "
                          "checkout)"))
    p.add_argument("--no-browser", action="store_true",
                   help=_("print the address, open nothing"))
    p.set_defaults(handler=run_ui)

    about = _("check a published web bundle against its hash")
    v = sub.add_parser("web-verify", help=about, description=about)
    v.add_argument("url", metavar="URL", help=_("the folder the bundle is published in"))
    v.add_argument("--expect", required=True, metavar="HASH",
                   help=_("the bundle SHA-256 the reproducible build printed"))
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
        raise error(ConfigError, N_("a port is 0-65535"), key="--port")
    try:
        server = UiServer(bundle, port=port or 0)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise error(ConfigError, N_("127.0.0.1:{port} is in use; stop what holds it, or "
                                    "pass --port 0 for a new one (a new port is a new "
                                    "origin: the browser's keystore of the old one is not "
                                    "found there)"), key="--port", port=port) from None
    if args.port is None and port is None:
        _remember_port(home, server.port)
    print(_("MedCrypt web companion, bundle {hash}", hash=bundle.sha256))
    print(_("Open: {url}", url=server.app_url))
    print(_("Stop with Ctrl-C."), flush=True)
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
    print(ngettext("verified: {n} file and the Content-Security-Policy match bundle {hash}",
                   "verified: {n} files and the Content-Security-Policy match bundle {hash}",
                   count, hash=result.bundle.sha256))
    sys.stdout.flush()
    return 0
