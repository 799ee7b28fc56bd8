"""``medcrypt-bot doctor [--config FILE] [--smoke]``: is this installation ready to run?

The config itself is validated by ``bot.cli.main`` before any handler runs (a bad
config exits 2 with one line). Doctor then checks what the config points at and
prints one line per check: server keys, platform secrets, database reachability,
migration state, SQLite pragmas, and whether every key version in use is configured.
It reports problems instead of stopping at the first; exit status 0 when healthy, 1
otherwise. Missing platform tokens are warnings: the sandbox demo runs without them.

``--smoke`` instead runs :func:`storage.smoke.run_smoke` on a throw-away database with
an ephemeral key - useful on a fresh machine before anything is configured.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medcrypt.bot.domain.config import Settings
from medcrypt.crypto.errors import MedCryptError
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import migrate
from medcrypt.storage.db import (
    SQLITE_REQUIRED_PRAGMAS,
    display_url,
    is_sqlite,
    make_engine,
    ping,
    session_factory,
    sqlite_file,
    sqlite_pragmas,
)
from medcrypt.storage.keys import count_stale, verify_keyring
from medcrypt.storage.smoke import run_smoke

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str = ""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("doctor", help="check config, environment, database and schema")
    p.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE",
                   help="TOML config file (also accepted before the command)")
    p.add_argument(
        "--smoke", action="store_true",
        help="run a storage smoke test on a temporary database instead",
    )
    p.set_defaults(handler=run)


def _platform_checks(settings: Settings) -> list[Check]:
    wanted: list[tuple[str, str]] = []
    if settings.telegram.enabled:
        wanted.append(("telegram.token_env", "Telegram bot token"))
    if settings.whatsapp.enabled:
        wanted += [
            ("whatsapp.account_sid_env", "Twilio account SID"),
            ("whatsapp.auth_token_env", "Twilio auth token"),
            ("whatsapp.from_number_env", "WhatsApp sender address"),
        ]
    checks = []
    for key, label in wanted:
        section, _, name = key.partition(".")
        var = getattr(getattr(settings, section), name)
        try:
            settings.secret(key)
            checks.append(Check(label, OK, f"${var} present"))
        except MedCryptError:
            checks.append(Check(label, WARN, f"${var} missing (needed for the real platform)"))
    return checks


def _database_checks(settings: Settings, keyring: Keyring | None) -> list[Check]:
    url = settings.database_url
    shown = display_url(url)
    checks: list[Check] = []
    if url.startswith("sqlite"):
        path = sqlite_file(url)
        if path and path != ":memory:" and not Path(path).exists():
            return [Check("database", FAIL, f"{shown}: file does not exist; run "
                          "`medcrypt-bot migrate` to create it")]
    try:
        engine = make_engine(url)
    except MedCryptError as exc:
        return [Check("database", FAIL, str(exc))]
    try:
        reason = ping(engine)
        if reason is not None:
            return [Check("database", FAIL, f"{shown} unreachable ({reason})")]
        checks.append(Check("database", OK, f"{shown} reachable ({engine.dialect.name})"))
        if is_sqlite(engine):
            live = sqlite_pragmas(engine)
            bad = [f"{k}={live.get(k)}" for k, v in SQLITE_REQUIRED_PRAGMAS.items()
                   if live.get(k) != v]
            if str(live.get("journal_mode")).lower() != "wal":
                bad.append(f"journal_mode={live.get('journal_mode')}")
            checks.append(Check("sqlite pragmas", FAIL if bad else OK,
                                ", ".join(bad) or "WAL, foreign_keys, secure_delete, busy_timeout"))
        at, head = migrate.current(url), migrate.head()
        if at != head:
            checks.append(Check("schema", FAIL, f"at {at or 'empty'}, head is {head}: "
                                "run `medcrypt-bot migrate`"))
            return checks
        differences = migrate.diff(url)
        checks.append(Check("schema", FAIL if differences else OK,
                            f"at head {head}" + (f", {len(differences)} difference(s) from "
                                                 "the models" if differences else "")))
        if keyring is not None:
            with session_factory(engine)() as session:
                try:
                    verify_keyring(session, keyring)
                    stale = sum(count_stale(session, keyring).values())
                    note = f", {stale} row(s) await `keys rewrap`" if stale else ""
                    detail = f"every version in use is configured{note}"
                    checks.append(Check("key coverage", OK, detail))
                except MedCryptError as exc:
                    checks.append(Check("key coverage", FAIL, str(exc)))
    finally:
        engine.dispose()
    return checks


def diagnose(settings: Settings) -> list[Check]:
    checks = [Check("config", OK, "valid")]
    keyring: Keyring | None = None
    try:
        keyring = Keyring.from_environ(env_name=settings.keyring.server_keys_env)
        checks.append(Check("server keys", OK, f"versions {list(keyring.versions)}, "
                            f"current {keyring.current_version}"))
    except MedCryptError as exc:
        checks.append(Check("server keys", FAIL, str(exc)))
    checks += _platform_checks(settings)
    try:
        checks += _database_checks(settings, keyring)
    finally:
        if keyring is not None:
            keyring.wipe()
    return checks


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.smoke:
        result = run_smoke()
        for name, ok, detail in result.steps:
            print(f"[{OK if ok else FAIL:>4}] smoke: {name}" + (f" - {detail}" if detail else ""))
        print("storage smoke run: " + ("passed" if result.ok else "FAILED"))
        return 0 if result.ok else 1
    checks = diagnose(settings)
    for c in checks:
        print(f"[{c.status:>4}] {c.name}" + (f": {c.detail}" if c.detail else ""))
    healthy = all(c.status != FAIL for c in checks)
    print("healthy" if healthy else "NOT healthy")
    return 0 if healthy else 1
