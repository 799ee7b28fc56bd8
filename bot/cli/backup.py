"""``medcrypt-bot backup create|verify|restore``: encrypted backups that keep shreds shredded.

``create`` signs an audit checkpoint, then dumps the database (SQLite online backup
API, or ``pg_dump``) into a file sealed under a fresh data key that the configured key
provider wraps (one call; with ``env``, the server keyring: docs/adr/0041).
``verify`` authenticates every byte and checks the dump without restoring it; a
provider-wrapped file is opened by one provider call, which the provider audits.
``restore`` replaces the database, then - before the bot can serve anything from it -
appends the signed restore entry, re-applies every shred and erasure of the erasure
record (idempotently: what the backup already reflects changes nothing), and runs the
shred sweep (docs/OPERATIONS.md, docs/adr/0016).

On SQLite that work happens on a staged copy that replaces the live file only when
done, so a failed restore leaves the old database in place and no unshredded copy is
ever live. On PostgreSQL the load is one transaction but the replay is not: a failed
restore says so and must be run again before the bot is started.

All three refuse to run without ``backup.erasure_record_path``: a backup whose restore
could not re-apply later shreds would undo them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medcrypt.bot.cli.jobs import parse_instant

if TYPE_CHECKING:  # the handlers import the bot lazily: building the parser stays cheap
    from medcrypt.bot.domain.config import Settings
    from medcrypt.crypto.server.keyring import Keyring
    from medcrypt.crypto.server.provider import KeyProvider
    from medcrypt.storage.backup.archive import BackupInfo
    from medcrypt.storage.backup.erasure_record import ErasureRecord


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("backup", help="encrypted backups: create, verify, restore")
    sub = p.add_subparsers(dest="backup_command", metavar="ACTION", required=True)
    c = sub.add_parser("create", help="dump the database into a new encrypted backup file")
    c.add_argument("output", type=Path, help="backup file to create (must not exist)")
    c.set_defaults(handler=run_create)
    v = sub.add_parser("verify", help="authenticate and check a backup without restoring it")
    v.add_argument("backup", type=Path, help="backup file")
    v.set_defaults(handler=run_verify)
    r = sub.add_parser("restore", help="replace the database with a backup; re-apply shreds")
    r.add_argument("backup", type=Path, help="backup file")
    r.add_argument("--yes", action="store_true",
                   help="confirm: the configured database is replaced (stop the bot first)")
    r.add_argument("--now", type=parse_instant, default=None, metavar="ISO-8601",
                   help="instant the shred sweep reasons about (default: now)")
    r.set_defaults(handler=run_restore)
    for action in (c, v, r):
        action.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE",
                            help="TOML config file (also accepted before the command)")


def _keyring(settings: Settings) -> Keyring:
    from medcrypt.crypto.server.keyring import Keyring

    return Keyring.from_environ(env_name=settings.keyring.server_keys_env)


def _provider(settings: Settings, keyring: Keyring) -> KeyProvider | None:
    """The configured key provider (None for ``env``), opened and health-checked once:
    it roots the key tree as in the bot and wraps or unwraps the backup's data key."""
    from medcrypt.bot.app.wiring import attach_key_tree

    return attach_key_tree(settings, keyring)


def _erasure_record(settings: Settings, keyring: Keyring) -> ErasureRecord:
    from medcrypt.crypto.errors import ConfigError
    from medcrypt.storage.backup.erasure_record import ErasureRecord

    if not settings.backup.erasure_record_path:
        raise ConfigError("backup.erasure_record_path",
                          "is not set: without the erasure record a restore cannot re-apply "
                          "later shreds, so backups are refused")
    return ErasureRecord(settings.backup.erasure_record_path, keyring)


def _describe(info: BackupInfo) -> str:
    from medcrypt.storage.audit import from_us

    wrapped = ("data key under the server keyring" if info.key_provider == "keyring" else
               f"data key under {info.key_provider} root version {info.key_version}, "
               f"backup id {info.backup_id}")
    return (f"{info.dialect} database at schema {info.schema_revision}, audit head seq "
            f"{info.audit_head_seq} ({info.audit_head_hash[:16]}), taken "
            f"{from_us(info.created_us).strftime('%Y-%m-%d %H:%M:%S')} UTC; {wrapped}")


def run_create(args: argparse.Namespace, settings: Settings) -> int:
    from medcrypt.bot.app.wiring import SystemClock, build_services
    from medcrypt.crypto.server.backup_seal import ProviderWrap
    from medcrypt.storage import migrate
    from medcrypt.storage.audit import to_us
    from medcrypt.storage.backup import archive, state

    keyring = _keyring(settings)
    _erasure_record(settings, keyring)
    url = settings.database_url
    state.require_head(url)
    provider = _provider(settings, keyring)
    clock = SystemClock()
    ctx = build_services(settings, clock, keyring=keyring)
    try:
        ctx.audit.checkpoint_open_tail()  # sign the tail, if a signing key is configured
        created_us = to_us(clock.now())  # before the dump: shreds from now on re-apply
        head = ctx.audit.head()
    finally:
        ctx.engine.dispose()
    info = archive.BackupInfo(created_us, state.dialect_of(url), migrate.head(),
                              head.seq, head.entry_hash.hex())
    size = archive.create(url, keyring if provider is None else ProviderWrap(provider), info,
                          args.output, pg_bin_dir=settings.backup.pg_bin_dir)
    print(f"backup written: {args.output} ({size:,} bytes of dump; "
          f"{_describe(archive.peek(args.output))})")
    return 0


def run_verify(args: argparse.Namespace, settings: Settings) -> int:
    from medcrypt.storage.backup import archive

    keyring = _keyring(settings)
    info = archive.verify(args.backup, keyring, provider=_provider(settings, keyring),
                          pg_bin_dir=settings.backup.pg_bin_dir)
    print(f"backup OK: {_describe(info)}")
    return 0


def run_restore(args: argparse.Namespace, settings: Settings) -> int:
    from medcrypt.bot.app.wiring import SystemClock, audit_signer, build_services
    from medcrypt.bot.domain.lifecycle.restore import after_restore
    from medcrypt.crypto.errors import ConfigError, StorageError
    from medcrypt.storage import migrate
    from medcrypt.storage.backup import archive, state
    from medcrypt.storage.db import make_engine

    if not args.yes:
        raise ConfigError("--yes", "restore replaces the configured database; stop the bot "
                                   "and confirm with --yes")
    keyring = _keyring(settings)
    record = _erasure_record(settings, keyring)
    if audit_signer(settings) is None:
        raise ConfigError(settings.audit.signing_key_env,
                          "is not set: the restore entry must be signed for `audit verify` "
                          "to recognise it")
    clock = SystemClock()  # audit entries keep the real time; --now moves the sweep only
    now = args.now if args.now is not None else clock.now()
    url = settings.database_url
    lost_to = state.audit_head_or_none(url)  # what the replaced database had, if readable
    provider = _provider(settings, keyring)
    with archive.opened(args.backup, keyring, provider=provider) as (info, dump):
        facts = list(record.read())  # a damaged record refuses before any change
        if info.dialect == "sqlite":
            target = url
            url = state.sqlite_url(dump)  # stage: replay on the copy, then swap it in
        else:
            archive.load(url, info, dump, pg_bin_dir=settings.backup.pg_bin_dir)
        try:
            migrate.upgrade(url)
            engine = make_engine(url)
            ctx = build_services(settings, clock, keyring=keyring, engine=engine)
            try:
                counts = after_restore(
                    ctx, facts, now, backup_head_seq=info.audit_head_seq,
                    lost_to_seq=lost_to,
                    backup_created_us=info.created_us)
            finally:
                engine.dispose()
        except Exception as exc:
            if info.dialect != "sqlite":
                raise StorageError(f"restore loaded the backup but did not finish re-applying "
                                   f"shreds ({type(exc).__name__}): do not start the bot; run "
                                   "`backup restore` again") from None
            raise
        if info.dialect == "sqlite":
            archive.load(target, info, dump)
    print(f"restored: {_describe(info)}")
    if lost_to is None:
        lost = (f"entries after seq {info.audit_head_seq} (end unknown: the replaced "
                "database could not be read) were lost")
    elif lost_to > info.audit_head_seq:
        lost = f"entries {info.audit_head_seq + 1}..{lost_to} of the replaced log were lost"
    else:
        lost = "no entry of the replaced log was lost"
    print(f"audit: restore entry at seq {counts['restore_seq']}; {lost}")
    print(f"erasure record: {counts['facts']} facts re-applied: {counts['epochs']} epochs "
          f"shredded again, "
          f"{counts['ended']} pairings ended, {counts['erased']} persons erased; sweep "
          f"shredded {counts['swept_epochs']} epochs")
    return 0
