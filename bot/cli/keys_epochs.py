"""``medcrypt-bot keys close-epoch|rewrap-deks``: the key tree's shred epochs by hand.

``close-epoch`` closes the current shred epoch now, whether or not the daily
``key_epoch`` job finds it due (docs/adr/0039-shred-epochs.md): a new root version
(``env``: the operator prepended a new server key first), a new KEK under it, every live
DEK rewrapped in batches, the emptied KEK retired, the old root versions destroyed.
``rewrap-deks`` only recomputes blind indexes under the current epoch's index key,
moves live DEKs from older KEKs onto the current one and retires the emptied KEKs - it
finishes a cut-off close without touching the provider's versions.

Both are resumable after a kill (run them again), show a progress bar on a terminal, and
hold the ``key_epoch`` job lock, so they never run beside the scheduler's job. They use
the operator's provider credentials (Transit: the admin token), which rotating and
destroying root versions need.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from medcrypt.bot.domain.config import Settings


def register(sub: Any) -> None:
    c = sub.add_parser("close-epoch", help="close the key tree's shred epoch now: new KEK, "
                                           "rewrap every live DEK, destroy old root versions")
    r = sub.add_parser("rewrap-deks", help="move live DEKs onto the current KEK (finish a "
                                           "cut-off close; no root version is destroyed)")
    for p, handler in ((c, run_close_epoch), (r, run_rewrap_deks)):
        p.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE",
                       help="TOML config file (also accepted before the command)")
        p.add_argument("--batch-size", type=int, default=500, metavar="N",
                       help="DEKs per transaction")
        p.set_defaults(handler=handler)
    m = sub.add_parser("migrate", help="move the key tree's KEKs to another key provider "
                                       "(stop the bot first; then switch [keys] provider)")
    m.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE",
                   help="TOML config file (also accepted before the command)")
    m.add_argument("--to", required=True, choices=("env", "pkcs11", "transit", "kms"),
                   help="the provider to move to (its [keys.<name>] settings are used)")
    m.set_defaults(handler=run_migrate)


def _admin_keyring(settings: Settings) -> Any:
    """The server keyring with its key tree rooted in the provider opened with the
    operator's credentials (``env``: the keyring's own keys)."""
    from medcrypt.bot.keyproviders import open_provider
    from medcrypt.crypto.server.keyring import Keyring
    from medcrypt.crypto.server.keytree import KeyTree
    from medcrypt.storage import deks

    keyring = Keyring.from_environ(os.environ, env_name=settings.keyring.server_keys_env)
    if settings.keys.provider == "env":
        deks.tree_of(keyring)
        return keyring
    provider = open_provider(settings, role="admin")
    provider.health()
    keyring.tree = KeyTree(provider, monotonic=time.monotonic,
                           ttl_seconds=settings.keys.kek_ttl_seconds)
    return keyring


def run_close_epoch(args: argparse.Namespace, settings: Settings) -> int:
    from medcrypt.bot.app.wiring import SystemClock, build_services
    from medcrypt.bot.cli.jobs import ProgressBar
    from medcrypt.bot.cli.keys import _require_migrated
    from medcrypt.bot.domain.lifecycle.runs import run_job

    _require_migrated(settings.database_url)
    keyring = _admin_keyring(settings)
    ctx = build_services(settings, SystemClock(), keyring=keyring)
    bar = ProgressBar(sys.stderr, "rewrap DEKs")
    try:
        outcome = run_job(ctx, "key_epoch", trigger="manual", force=True,
                          progress=bar if bar.enabled else None, batch=args.batch_size)
    finally:
        bar.close()
        _close(ctx)
    s = outcome.summary
    if s.get("pending"):
        print(f"shred epoch NOT closed: {s['pending']} DEK(s) or blind index(es) still "
              f"on the older epoch ({s['rewrapped']} rewrapped, {s['reindexed']} "
              "reindexed); run `keys close-epoch` again")
        return 1
    print(f"shred epoch closed: KEK on root version {s['root_version']}; "
          f"{s['reindexed']} blind index(es) recomputed, "
          f"{s['rewrapped']} DEK(s) rewrapped, {s['retired_keks']} KEK(s) retired, "
          f"{s['destroyed_versions']} root version(s) destroyed, "
          f"{s['provider_calls']} provider call(s)")
    if s.get("removable_env_versions"):
        print("env provider: no KEK needs the older server key versions any more; remove "
              "them from the server keys once `keys status` shows no row on them "
              "(`keys rewrap` moves the rest) - until then the closed epoch's backups "
              "still open", file=sys.stderr)
    return 0


def run_rewrap_deks(args: argparse.Namespace, settings: Settings) -> int:
    from medcrypt.bot.cli.jobs import ProgressBar
    from medcrypt.bot.cli.keys import _require_migrated
    from medcrypt.storage import deks, kek_epochs, reindex
    from medcrypt.storage.db import make_engine, session_factory
    from medcrypt.storage.joblock import job_lock

    _require_migrated(settings.database_url)
    keyring = _admin_keyring(settings)
    engine = make_engine(settings.database_url)
    bar = ProgressBar(sys.stderr, "rewrap DEKs")
    try:
        from datetime import UTC, datetime

        with job_lock(engine, "key_epoch"):
            report = kek_epochs.rewrap_deks(
                session_factory(engine), deks.tree_of(keyring), now=datetime.now(UTC),
                batch=args.batch_size, progress=bar if bar.enabled else None)
        with session_factory(engine)() as session:
            tree = deks.tree_of(keyring)
            left = (kek_epochs.status(session, tree.provider_name).pending
                    + reindex.pending(session))
    finally:
        bar.close()
        engine.dispose()
        _close_keyring(keyring)
    print(f"recomputed {report.reindexed} blind index(es) under the current epoch's "
          f"key; rewrapped {report.rewrapped} DEK(s) onto the current KEK; "
          f"{report.retired} KEK(s) retired; {left} DEK(s) or index(es) left on the "
          "older epoch")
    return 0 if left == 0 else 1


def _close(ctx: Any) -> None:
    ctx.engine.dispose()
    _close_keyring(ctx.keyring)


def _close_keyring(keyring: Any) -> None:
    tree = keyring.tree
    if tree is not None:
        tree.wipe()
        if tree.provider_name != "env":
            tree.root.close()
    keyring.wipe()


def print_tree_status(session: Any, settings: Settings, keyring: Any, now: Any) -> None:
    """The key tree's part of ``keys status``: provider, KEKs (root version, age), DEK
    counts and ages, and how old the oldest restorable backup may be (no provider
    call; docs/OPERATIONS.md "Shred epochs")."""
    from medcrypt.storage import kek_epochs, reindex

    provider = settings.keys.provider
    found = kek_epochs.figures(session, provider,
                               configured_env_versions=tuple(keyring.versions))

    def age(at: Any) -> str:
        return "-" if at is None else f"{(now - at).total_seconds() / 86_400:.1f} days"

    print(f"key provider: {provider}; shred epochs of {settings.keys.shred_epoch_days} days")
    for n, kek in enumerate(found.status.keks):
        role = "current" if n == 0 else "closing"
        print(f"  KEK {kek.kek_id[:8]}  root version {kek.root_version}  age "
              f"{age(kek.created_at)}  {kek.live_deks} live DEK(s)  ({role})")
    print(f"  retired KEKs: {found.status.retired}; DEKs still on an older KEK: "
          f"{found.status.pending}")
    print(f"DEKs: {found.deks_live} live (oldest {age(found.oldest_live_dek)}), "
          f"{found.deks_destroyed} destroyed")
    index_keys, older = reindex.figures(session)
    print(f"blind-index keys: {index_keys} live; {older} row(s) still indexed under an "
          "older epoch's key")
    print(f"oldest restorable backup: {age(found.restorable_since)} old (a backup taken "
          "before that holds no KEK whose root version is left)")


def run_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """``keys migrate --to NAME``: the configured provider's KEKs re-wrapped by NAME's."""
    import dataclasses

    from medcrypt.bot.cli.jobs import ProgressBar
    from medcrypt.bot.cli.keys import _require_migrated
    from medcrypt.bot.keyproviders import open_provider
    from medcrypt.crypto.errors import ConfigError
    from medcrypt.crypto.server.env_provider import EnvProvider
    from medcrypt.storage import deks
    from medcrypt.storage.db import make_engine, session_factory
    from medcrypt.storage.joblock import job_lock
    from medcrypt.storage.kek_migrate import migrate_keks

    if args.to == settings.keys.provider:
        raise ConfigError("--to", f"the configured provider is already {args.to}")
    _require_migrated(settings.database_url)
    keyring = _admin_keyring(settings)
    if args.to == "env":
        masters = keyring.master_keys()
        target: Any = EnvProvider(masters, None)
        for key in masters.values():
            key[:] = bytes(len(key))
    else:
        target = open_provider(dataclasses.replace(
            settings, keys=dataclasses.replace(settings.keys, provider=args.to)))
        target.health()
    engine = make_engine(settings.database_url)
    bar = ProgressBar(sys.stderr, "move KEKs")
    try:
        with job_lock(engine, "key_epoch"):
            report = migrate_keks(session_factory(engine), deks.tree_of(keyring), target,
                                  progress=bar if bar.enabled else None)
    finally:
        bar.close()
        engine.dispose()
        target.close()
        _close_keyring(keyring)
    print(f"moved {report.moved} KEK(s) from {settings.keys.provider} to {args.to} "
          f"({report.provider_calls} provider call(s)); {report.left} left on "
          f"{settings.keys.provider}. Now set [keys] provider = \"{args.to}\" and start the "
          "bot; keep the old provider's keys for the restore window (backups from before "
          "the move need them)")
    return 0 if report.left == 0 else 1
