"""``medcrypt-bot physicians enrol|revoke|list``: the clinic's enrolled physician keys.

Break-glass of a v3 pairing trusts a pinned-key record only when it is signed by a key
enrolled here (docs/adr/0026, :mod:`bot.domain.enrolment`). ``enrol`` is done with the
physician present: their companion shows the identity key and its fingerprint, the
admin types the key and the fingerprint's first characters back, and the bot refuses a
mismatch. Each enrolment and revocation is audited. Print the key into the clinic's
own register too: the share holders give it to ``medcrypt-breakglass open --physician-key``.
"""

from __future__ import annotations

import argparse
from typing import Any

from medcrypt.bot.domain.config import Settings


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("physicians",
                              help="enrol physicians' identity keys (v3 break-glass root)")
    sub = p.add_subparsers(dest="physicians_command", metavar="ACTION", required=True)
    en = sub.add_parser("enrol", help="enrol a physician's identity key, in person")
    en.add_argument("key", metavar="KEY", help="the identity key (base64) the companion shows")
    en.add_argument("--label", required=True, metavar="NAME",
                    help="who holds it, as in the clinic's staff register")
    en.add_argument("--fingerprint", required=True, metavar="HEX",
                    help="at least the first 16 characters of the fingerprint the "
                         "physician's companion shows")
    en.set_defaults(handler=enrol_cmd)
    rv = sub.add_parser("revoke", help="withdraw an enrolled key (a lost device, staff left)")
    rv.add_argument("key", metavar="KEY")
    rv.set_defaults(handler=revoke_cmd)
    ls = sub.add_parser("list", help="list enrolled keys with their fingerprints")
    ls.set_defaults(handler=list_cmd)


def _run(settings: Settings, work: Any) -> Any:
    from medcrypt.bot.app.wiring import SystemClock, build_services

    services = build_services(settings, SystemClock())
    try:
        services.warm()
        with services.sessions.begin() as session:
            return work(services, session)
    finally:
        services.engine.dispose()


def enrol_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from medcrypt.bot.domain import enrolment

    key = enrolment.parse_key(args.key)
    added = _run(settings, lambda deps, s: enrolment.enrol(deps, s, key, args.label,
                                                           args.fingerprint))
    what = "Enrolled" if added else "Already enrolled"
    print(f"{what}: {args.key.strip()} (fingerprint {enrolment.fingerprint(key)}). "
          "Record the key in the clinic's register for break-glass.")
    return 0


def revoke_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from medcrypt.bot.domain import enrolment

    key = enrolment.parse_key(args.key)
    done = _run(settings, lambda deps, s: enrolment.revoke(deps, s, key))
    print("Revoked." if done else "Not enrolled, or already revoked: nothing changed.")
    return 0 if done else 1


def list_cmd(args: argparse.Namespace, settings: Settings) -> int:
    import base64

    from medcrypt.bot.domain import enrolment

    rows = _run(settings, lambda _deps, s: enrolment.listing(s))
    for row in rows:
        state = ("revoked " + row.revoked_at.strftime("%Y-%m-%d") if row.revoked_at
                 else "enrolled " + row.enrolled_at.strftime("%Y-%m-%d"))
        print(f"{base64.b64encode(row.identity_key).decode()}  "
              f"{enrolment.fingerprint(row.identity_key)[:16]}  {state}  {row.label}")
    if not rows:
        print("No physician key is enrolled.")
    return 0
