"""``medcrypt-bot breakglass record-open``: record that a break-glass bundle was opened.

Opening a bundle is not the bot's job: that is ``medcrypt-breakglass open``, a program
of its own (:mod:`medcrypt.opener`) run offline by the share holders, because opening
code may never be importable by the bot (docs/adr/0000, amendment 2). ``record-open
BUNDLE`` runs on the bot host afterwards and appends the ``breakglass.opened`` audit
entry; the bot recognises the file by its SHA-256. ``medcrypt-bot breakglass --help``
says where opening went, for an operator who remembers ``medcrypt-bot breakglass open``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from medcrypt.bot.domain.config import Settings
from medcrypt.crypto.errors import ConfigError, MalformedToken

OPENER_MOVED = ("Opening a bundle is `medcrypt-breakglass open BUNDLE` (a separate program, "
                "run offline by the share holders); the bot holds no opening code.")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("breakglass", help="record a break-glass opening",
                              description=OPENER_MOVED)
    sub = p.add_subparsers(dest="breakglass_command", metavar="ACTION", required=True)
    rec = sub.add_parser("record-open", help="record in the audit log that a bundle was opened")
    rec.add_argument("bundle", type=Path, metavar="BUNDLE")
    rec.add_argument("--holders", type=int, default=2, metavar="N",
                     help="how many share holders took part (default 2)")
    rec.set_defaults(handler=record_cmd)


def _read_bundle(path: Path) -> bytes:
    from medcrypt.crypto.keyless.bundle_wire import parse_header

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read bundle ({exc.strerror or exc})") from None
    parse_header(data)
    return data


def record_bundle(settings: Settings, data: bytes, *, holders: int) -> None:
    """Append ``breakglass.opened`` for ``data`` (also what ``medcrypt-breakglass open
    --record`` calls)."""
    from medcrypt.bot.app.wiring import SystemClock, build_services
    from medcrypt.bot.domain.breakglass.bundle import bundle_digest
    from medcrypt.bot.domain.breakglass.requests import record_opened
    from medcrypt.crypto.keyless.bundle_wire import parse_header

    header = parse_header(data)
    services = build_services(settings, SystemClock())
    try:
        services.warm()
        with services.sessions.begin() as session:
            record_opened(services, session, header.code, bundle_digest(data), holders=holders)
    finally:
        services.engine.dispose()
    print(f"Recorded the opening of break-glass request {header.code} in the audit log.")


def record_cmd(args: argparse.Namespace, settings: Settings) -> int:
    if not 1 <= args.holders <= 16:
        raise MalformedToken("--holders must be 1 to 16")
    record_bundle(settings, _read_bundle(args.bundle), holders=args.holders)
    return 0
