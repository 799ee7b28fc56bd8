"""``medcrypt-bot doctor [--config FILE] [--live] [--smoke]``: is this installation ready?

The config itself is validated by ``bot.cli.main`` before any handler runs (a bad
config exits 2 with one line). Doctor then checks what a valid config can still get
wrong, and what it points at, one line per check: server keys; the key provider (when
not ``env``: reachable, keys and mechanisms present); the settings that are
well-formed but not usable (the example's placeholder ``public_url``, an empty or
malformed escrow key that would only surface at ``/breakglass``, no admins, a webhook
path that is not the webhook URL's, webhook mode without its secret); the tokens of
every enabled platform; database reachability, migration state, SQLite pragmas and key
coverage. It reports every problem instead of stopping at the first; exit status 0 when
healthy, 1 otherwise. A missing token of an enabled platform is an error: ``run`` would
refuse to start - a platform is switched off with ``enabled = false``, not by leaving
its token out.

``--live`` also asks the platforms, with the configured credentials and base URLs:
Telegram ``getMe`` and a fetch of the Twilio account (:mod:`bot.adapters.probes`).

``--smoke`` instead runs :func:`storage.smoke.run_smoke` on a throw-away database with
an ephemeral key - useful on a fresh machine before anything is configured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from medcrypt.bot.domain.config import Settings
from medcrypt.crypto.errors import MedCryptError

if TYPE_CHECKING:
    from medcrypt.crypto.server.keyring import Keyring

OK, WARN, FAIL = "ok", "warn", "FAIL"

#: ``whatsapp.public_url``'s default and the example's: a clinic that keeps it has every
#: Twilio webhook refused (signatures are checked against this URL).
PLACEHOLDER_HOST = "bot.example.org"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str = ""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("doctor", help="check config, environment, database and schema")
    p.add_argument(
        "--live", action="store_true",
        help="also call Telegram getMe and fetch the Twilio account with the configured "
             "credentials",
    )
    p.add_argument(
        "--smoke", action="store_true",
        help="run a storage smoke test on a temporary database instead",
    )
    p.set_defaults(handler=run)


def _secret_present(settings: Settings, key: str, env: Mapping[str, str]) -> bool:
    try:
        settings.secret(key, environ=env)
    except MedCryptError:
        return False
    return True


def _platform_checks(settings: Settings, env: Mapping[str, str]) -> list[Check]:
    wanted: list[tuple[str, str]] = []
    if settings.telegram.enabled:
        wanted.append(("telegram.token_env", "Telegram bot token"))
        if settings.telegram.mode == "webhook":
            wanted.append(("telegram.webhook_secret_env", "Telegram webhook secret"))
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
        if _secret_present(settings, key, env):
            checks.append(Check(label, OK, f"${var} present"))
        else:
            checks.append(Check(label, FAIL, f"${var} missing: `run` refuses to start "
                                f"(or set {section}.enabled = false)"))
    return checks


def _url_checks(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    if settings.whatsapp.enabled:
        url = settings.whatsapp.public_url
        if urlsplit(url).hostname == PLACEHOLDER_HOST:
            checks.append(Check("whatsapp.public_url", FAIL, f"still the example's {url}: set "
                                "the URL Twilio calls, or every webhook is refused"))
        else:
            checks.append(Check("whatsapp.public_url", OK, url))
    tg = settings.telegram
    if tg.enabled and tg.mode == "webhook":
        path = "/" + tg.webhook_path.strip("/")
        url_path = urlsplit(tg.webhook_url).path.rstrip("/")
        if url_path == path or url_path.endswith(path):
            checks.append(Check("telegram.webhook_path", OK, f"{path} ends the webhook URL"))
        else:
            checks.append(Check("telegram.webhook_path", FAIL,
                                f"{path} is not the end of telegram.webhook_url's path "
                                f"{url_path or '/'}: Telegram's updates would get 404"))
    return checks


def _provider_checks(settings: Settings, env: Mapping[str, str]) -> list[Check]:
    """The start-up check of a key provider other than env (ADR 0033): reachable, both
    keys present, and for PKCS#11 both mechanisms and no key that could be read out."""
    if settings.keys.provider == "env":
        return []
    from medcrypt.bot.keyproviders import open_provider

    try:
        provider = open_provider(settings, env)
        try:
            health = provider.health()
        finally:
            provider.close()
    except MedCryptError as exc:
        return [Check("key provider", FAIL, f"{exc} (the bot would not start)")]
    return [Check("key provider", OK, f"{health.provider} ({health.detail}): root version "
                  f"{health.root_version}, checkpoint key outside the bot's process")]


def _clinic_checks(settings: Settings, env: Mapping[str, str]) -> list[Check]:
    from medcrypt.bot.adapters.channels import telegram_admins, whatsapp_admins
    from medcrypt.bot.domain.breakglass.bundle import escrow_public_from_config

    checks: list[Check] = []
    try:
        escrow_public_from_config(settings.clinic.escrow_public_key)
        checks.append(Check("escrow key", OK, "clinic.escrow_public_key is a 32-byte key"))
    except MedCryptError as exc:
        checks.append(Check("escrow key", FAIL, f"{exc} (break-glass would fail when needed)"))
    try:
        persons = set(telegram_admins(settings).values()) if settings.telegram.enabled else set()
        if settings.whatsapp.enabled:
            persons |= set(whatsapp_admins(settings, env).values())
    except MedCryptError as exc:
        return [*checks, Check("admins", FAIL, str(exc))]
    if not persons:
        checks.append(Check("admins", FAIL, "no clinic admin on an enabled platform "
                            "(clinic.admins, clinic.admin_telegram_ids, "
                            f"${settings.clinic.admin_whatsapp_numbers_env}): nobody can "
                            "approve break-glass, /shred or add admins"))
    elif len(persons) == 1:
        checks.append(Check("admins", WARN, "1 admin person: break-glass needs a second "
                            "one (add one in chat with /admin_add)"))
    else:
        checks.append(Check("admins", OK, f"{len(persons)} admin persons configured"))
    return checks


def _admin_reach_check(session: Any, settings: Settings, env: Mapping[str, str],
                       keyring: Keyring) -> Check:
    """Admins the bot cannot write to yet: witness lines for them wait (held) until they
    write to the bot. A configured admin with no identity never wrote to it; one whose
    messages are held was refused by the platform (Telegram 403: never opened the chat,
    or blocked the bot; WhatsApp: the 24-hour window closed). Addresses are masked."""
    from medcrypt.bot.adapters.channels import telegram_admins, whatsapp_admins
    from medcrypt.storage.repos import admins, identities

    configured: list[tuple[str, str]] = []
    if settings.telegram.enabled:
        configured += [("telegram", a) for a in telegram_admins(settings)]
    if settings.whatsapp.enabled:
        configured += [("whatsapp", a) for a in whatsapp_admins(settings, env)]
    unreachable: list[str] = []
    for platform, address in configured:
        found = identities.find_identity(session, keyring, platform, address)
        if found is None or found.template_sent_at is not None:
            unreachable.append(f"{platform} …{address[-3:]}")
    chat_added = admins.admin_identity_ids(session)
    waiting = identities.waiting_since(session, chat_added)
    held = sum(1 for i in chat_added if waiting.get(i) is not None)
    if held:
        unreachable.append(f"{held} added in chat")
    if not unreachable:
        return Check("admins reachable", OK, "every admin has written to the bot")
    return Check("admins reachable", WARN,
                 f"not reachable yet: {', '.join(unreachable)} - their audit witness lines "
                 "wait until they write to the bot (Telegram: open its chat and press "
                 "Start; WhatsApp: send it any message)")


def _database_checks(settings: Settings, keyring: Keyring | None,
                     env: Mapping[str, str] | None = None) -> list[Check]:
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
                # A configuration error there is the "admins" check's to report.
                with contextlib.suppress(MedCryptError):
                    checks.append(_admin_reach_check(session, settings, env or {}, keyring))
    finally:
        engine.dispose()
    return checks


async def _live_checks(settings: Settings, env: Mapping[str, str]) -> list[Check]:
    """Ask each enabled platform whose credentials are present; one line each."""
    from medcrypt.bot.adapters.probes import telegram_get_me, twilio_account

    checks: list[Check] = []
    if settings.telegram.enabled and _secret_present(settings, "telegram.token_env", env):
        try:
            name = await telegram_get_me(settings, settings.secret("telegram.token_env",
                                                                   environ=env))
            checks.append(Check("Telegram live", OK, f"getMe answered: @{name}"))
        except MedCryptError as exc:
            checks.append(Check("Telegram live", FAIL, str(exc)))
    if settings.whatsapp.enabled and all(
            _secret_present(settings, k, env)
            for k in ("whatsapp.account_sid_env", "whatsapp.auth_token_env")):
        try:
            status = await twilio_account(
                settings, settings.secret("whatsapp.account_sid_env", environ=env),
                settings.secret("whatsapp.auth_token_env", environ=env))
            checks.append(Check("Twilio live", OK, f"account fetched, status {status}"))
        except MedCryptError as exc:
            checks.append(Check("Twilio live", FAIL, str(exc)))
    return checks


def diagnose(settings: Settings, *, live: bool = False,
             environ: Mapping[str, str] | None = None) -> list[Check]:
    from medcrypt.crypto.server.keyring import Keyring

    env = os.environ if environ is None else environ
    checks = [Check("config", OK, "valid")]
    keyring: Keyring | None = None
    try:
        keyring = Keyring.from_environ(env, env_name=settings.keyring.server_keys_env)
        checks.append(Check("server keys", OK, f"versions {list(keyring.versions)}, "
                            f"current {keyring.current_version}"))
    except MedCryptError as exc:
        checks.append(Check("server keys", FAIL, str(exc)))
    checks += _provider_checks(settings, env)
    checks += _url_checks(settings)
    checks += _clinic_checks(settings, env)
    checks += _platform_checks(settings, env)
    try:
        checks += _database_checks(settings, keyring, env)
    finally:
        if keyring is not None:
            keyring.wipe()
    if live:
        checks += asyncio.run(_live_checks(settings, env))
    return checks


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.smoke:
        from medcrypt.storage.smoke import run_smoke

        result = run_smoke()
        for name, ok, detail in result.steps:
            print(f"[{OK if ok else FAIL:>4}] smoke: {name}" + (f" - {detail}" if detail else ""))
        print("storage smoke run: " + ("passed" if result.ok else "FAILED"))
        return 0 if result.ok else 1
    checks = diagnose(settings, live=args.live)
    for c in checks:
        print(f"[{c.status:>4}] {c.name}" + (f": {c.detail}" if c.detail else ""))
    healthy = all(c.status != FAIL for c in checks)
    print("healthy" if healthy else "NOT healthy")
    return 0 if healthy else 1
