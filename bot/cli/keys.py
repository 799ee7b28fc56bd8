"""``medcrypt-bot keys status|rewrap|generate|provider``: operate the server keyring
(``provider``: the key provider's commands, :mod:`.keys_provider`).

Rotation procedure (docs/OPERATIONS.md): ``keys generate`` prints a new entry; prepend
it to ``MEDCRYPT_SERVER_KEYS``; restart; ``keys rewrap`` re-seals every value under it;
``keys status`` shows zero rows on the old version; then remove the old key. Removing a
key that rows still use fails loudly, naming table, column and count. ``keys rewrap``
also re-MACs the erasure record's lines under the new version (docs/adr/0041), and
``keys status`` refuses while a line needs a version that is not configured.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, TextIO

from medcrypt.bot.domain.config import Settings
from medcrypt.crypto.errors import StorageError
from medcrypt.crypto.server.keyring import Keyring, generate_key

if TYPE_CHECKING:
    from medcrypt.storage.backup.erasure_record import ErasureRecord


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("keys", help="server keyring: status, rewrap, generate")
    sub = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    s = sub.add_parser("status", help="rows per key version for every encrypted column")
    s.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE",
                   help="TOML config file (also accepted before the command)")
    s.set_defaults(handler=run_status)
    r = sub.add_parser("rewrap", help="re-encrypt every value under the current key version")
    r.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE",
                   help="TOML config file (also accepted before the command)")
    r.add_argument("--batch-size", type=int, default=500, help="rows per transaction")
    r.set_defaults(handler=run_rewrap)
    g = sub.add_parser("generate", help="print a fresh key entry for MEDCRYPT_SERVER_KEYS")
    g.add_argument("--version", type=int, required=True, help="version number of the new key")
    g.set_defaults(handler=run_generate)
    from medcrypt.bot.cli import keys_epochs, keys_provider

    keys_provider.register(sub)
    keys_epochs.register(sub)


def _keyring(settings: Settings) -> Keyring:
    return Keyring.from_environ(env_name=settings.keyring.server_keys_env)


def _rooted_keyring(settings: Settings) -> Keyring:
    """The server keyring with its key tree rooted in the configured provider, as the
    bot roots it: ``rewrap`` seals under DEKs whose KEK that provider wraps."""
    from medcrypt.bot.app.wiring import attach_key_tree

    keyring = _keyring(settings)
    try:
        attach_key_tree(settings, keyring)
    except BaseException:
        keyring.wipe()
        raise
    return keyring


def _erasure_record(settings: Settings, keyring: Keyring) -> ErasureRecord | None:
    from medcrypt.storage.backup.erasure_record import ErasureRecord

    path = settings.backup.erasure_record_path
    return ErasureRecord(path, keyring) if path else None


def _record_status(settings: Settings, keyring: Keyring) -> None:
    """Lines per MAC version; refuses (StorageError) while one needs a removed version."""
    record = _erasure_record(settings, keyring)
    if record is None:
        return
    versions = record.mac_versions()
    shown = ", ".join(f"v{v}: {n}" for v, n in sorted(versions.items(), reverse=True))
    print(f"erasure record: {sum(versions.values())} line(s) ({shown or 'empty'})")
    missing = {v: n for v, n in versions.items() if v not in keyring.versions}
    if missing:
        raise StorageError(
            "erasure record: " + ", ".join(f"{n} line(s) under version {v}"
                                           for v, n in sorted(missing.items()))
            + " not configured: a restore would refuse the record; add the version back "
              "and run `keys rewrap`")
    if any(v != keyring.current_version for v in versions):
        print("erasure record: lines on an older version - run `keys rewrap` before "
              "removing it")


def _require_migrated(url: str) -> None:
    from medcrypt.storage import migrate

    at, want = migrate.current(url), migrate.head()
    if at != want:
        raise StorageError(
            f"database schema is at {at or 'empty'}, expected {want}: run `medcrypt-bot migrate`"
        )


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    from medcrypt.storage import deks
    from medcrypt.storage import keys as keyops
    from medcrypt.storage.db import make_engine, session_factory

    keyring = _keyring(settings)
    url = settings.database_url
    _require_migrated(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            usage = keyops.key_status(session)
            print(f"keyring versions: {', '.join(map(str, keyring.versions))} "
                  f"(current {keyring.current_version})")
            print(f"{'table':<24} {'column':<16} {'version':>7} {'rows':>8}")
            for u in usage:
                flag = "" if u.version in keyring.versions else "  MISSING KEY"
                print(f"{u.table:<24} {u.column:<16} {u.version:>7} {u.rows:>8}{flag}")
            stale = sum(u.rows for u in usage if u.version != keyring.current_version)
            print(f"values not on the current version: {stale}")
            tree = deks.counts(session)
            print(f"key tree: {tree['keks']} KEK(s), {tree['deks_live']} live DEK(s), "
                  f"{tree['deks_destroyed']} destroyed")
            from datetime import UTC, datetime

            from medcrypt.bot.cli.keys_epochs import print_tree_status

            _record_status(settings, keyring)
            print_tree_status(session, settings, keyring, datetime.now(UTC))
            keyops.verify_keyring(session, keyring)
    finally:
        engine.dispose()
        keyring.wipe()
    return 0


class _ProgressBar:
    """A one-line progress bar on a terminal; silent otherwise (logs stay clean)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()

    def __call__(self, table: str, column: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        width = 30
        filled = width if total == 0 else width * done // total
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r{table}.{column:<14} [{bar}] {done}/{total}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def run_rewrap(args: argparse.Namespace, settings: Settings) -> int:
    from medcrypt.storage import keys as keyops
    from medcrypt.storage.db import make_engine, session_factory

    keyring = _rooted_keyring(settings)
    url = settings.database_url
    _require_migrated(url)
    engine = make_engine(url)
    try:
        sessions = session_factory(engine)
        count = keyops.rewrap(
            sessions, keyring, batch_size=args.batch_size, progress=_ProgressBar(sys.stderr)
        )
        with sessions() as session:
            remaining = sum(keyops.count_stale(session, keyring).values())
        record = _erasure_record(settings, keyring)
        lines, remaced = record.rekey() if record is not None else (0, 0)
        current = keyring.current_version
    finally:
        engine.dispose()
        keyring.wipe()
    print(f"rewrapped {count} value(s) to key version {current}; "
          f"{remaining} row(s) remain on older versions")
    if record is not None:
        print(f"erasure record: {remaced} of {lines} line(s) re-MACed to key version "
              f"{current}")
    return 0 if remaining == 0 else 1


def run_generate(args: argparse.Namespace, settings: Settings) -> int:
    if not 1 <= args.version <= 0xFFFF:
        raise StorageError("key version must be between 1 and 65535")
    print(f"{args.version}:{generate_key()}")
    return 0
