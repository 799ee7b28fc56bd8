"""Backup and restore of a realistic database: data key under the keyring (``env``,
format 1) vs under a key provider (format 2: PKCS#11 on SoftHSM2, Transit on OpenBao),
docs/adr/0041.

The database: ``--persons`` identities (each with its own DEK, address, label and blind
index, as the relay makes them) and ``--audit`` audit entries (encrypted details,
checkpoints), on SQLite. Measured, as medians of ``--repeat`` rounds:

* **create**: ``archive.create`` - online dump, integrity check, sealing (one provider
  wrap for format 2);
* **restore data path**: ``archive.opened`` + ``archive.load`` into a fresh file -
  unwrap (one provider call), authenticate and decrypt every chunk, load through the
  SQLite backup API. The rest of ``backup restore`` (migrations, re-applying the
  erasure record, the sweep) does not depend on who wrapped the key.

Anchor, same run: the plain SQLite online dump of the same database (``sqlite_dump``),
no encryption. Ratios are to the ``env`` row of the same step and to that anchor. The
rounds of all cases are interleaved, so a load change on a shared machine hits each.

Run: ``python -m bench.run backup [--persons N] [--audit N] [--repeat R] [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import load_average
from medcrypt.bot.app.wiring import open_audit_log
from medcrypt.bot.domain.config import parse_settings
from medcrypt.crypto.server.audit import SYSTEM_BOT, Action
from medcrypt.crypto.server.backup_seal import KeyWrapper, ProviderWrap
from medcrypt.crypto.server.keyring import Keyring, generate_key
from medcrypt.crypto.server.provider import KeyProvider
from medcrypt.storage.audit import AuditEvent
from medcrypt.storage.backup import archive
from medcrypt.storage.backup.engines import sqlite_dump
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.migrate import head, upgrade
from medcrypt.storage.repos.identities import get_or_create_identity, set_label

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _fill(url: str, keyring: Keyring, persons: int, audit: int) -> None:
    engine = make_engine(url)
    try:
        sessions = session_factory(engine)
        for start in range(0, persons, 500):
            with sessions.begin() as s:
                for i in range(start, min(start + 500, persons)):
                    row, _ = get_or_create_identity(s, keyring, "whatsapp",
                                                    f"+1555{i:07d}", now=NOW)
                    set_label(row, keyring, f"Patient {i}")
        log = open_audit_log(parse_settings({}), engine, keyring=keyring)
        for start in range(0, audit, 1000):
            log.append_many([AuditEvent(SYSTEM_BOT, Action.BOT_STARTED, SYSTEM_BOT,
                                        {"n": i, "detail": "x" * 80})
                             for i in range(start, min(start + 1000, audit))])
    finally:
        engine.dispose()


def _medians(fns: list[Callable[[], object]], repeat: int) -> list[float]:
    """Median seconds of each ``fn``, the rounds interleaved (a, b, c, a, b, c, ...) so
    that a load change on the shared machine hits every case alike, not the last one."""
    for fn in fns:
        fn()  # warm: page cache, lazy imports, the provider's session
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, times in zip(fns, samples, strict=True):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return [statistics.median(times) for times in samples]


def _cases(stack: ExitStack) -> list[tuple[str, KeyProvider]]:
    """(name, provider) for each provider service that can run here."""
    from tests.support import keyrigs, keyservers

    found: list[tuple[str, KeyProvider]] = []
    try:
        hsm = stack.enter_context(keyservers.softhsm())
        rig = keyrigs.pkcs11_rig(hsm)
        stack.callback(rig.close)
        found.append(("pkcs11 (SoftHSM2)", rig.bot))
    except BaseException as exc:  # a skip from the service script is BaseException
        print(f"# pkcs11 left out: {exc}")
    try:
        bao = stack.enter_context(keyservers.openbao())
        rig = keyrigs.transit_rig(bao)
        stack.callback(rig.close)
        found.append(("transit (OpenBao, loopback)", rig.bot))
    except BaseException as exc:
        print(f"# transit left out: {exc}")
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_backup")
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--audit", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smaller run (smoke test)")
    args, _ = parser.parse_known_args(argv)
    if args.quick:
        args.persons, args.audit, args.repeat = 500, 2000, 3
    keyring = Keyring.from_env_value(f"1:{generate_key()}")
    print(f"\n## backup create / restore: {args.persons:,} persons, {args.audit:,} audit "
          f"entries, median of {args.repeat}")
    print(f"# load average before: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="medcrypt-bench-backup-") as tmp, \
            ExitStack() as stack:
        work = Path(tmp)
        url = f"sqlite:///{work / 'bot.db'}"
        upgrade(url)
        t0 = time.perf_counter()
        _fill(url, keyring, args.persons, args.audit)
        size = (work / "bot.db").stat().st_size
        print(f"# fill: {time.perf_counter() - t0:.1f} s; database {size / 1e6:.1f} MB")
        info = archive.BackupInfo(0, "sqlite", head(), 0, "00" * 32)

        def plain() -> None:
            out = work / f"plain-{uuid.uuid4().hex}"
            sqlite_dump(url, out)
            out.unlink()

        cases: list[tuple[str, KeyWrapper | ProviderWrap, KeyProvider | None]] = [
            ("env (keyring, format 1)", keyring, None)]
        cases += [(name, ProviderWrap(p), p) for name, p in _cases(stack)]
        creates: list[Callable[[], object]] = [plain]
        restores: list[Callable[[], object]] = []
        made: list[list[Path]] = []
        for _name, wrapper, provider in cases:
            files: list[Path] = []
            made.append(files)

            def create(wrapper: Any = wrapper, files: list[Path] = files) -> None:
                out = work / f"b-{uuid.uuid4().hex}.mcbackup"
                archive.create(url, wrapper, info, out)
                files.append(out)

            def restore(provider: Any = provider, files: list[Path] = files) -> None:
                target = f"sqlite:///{work / f'restored-{uuid.uuid4().hex}.db'}"
                with archive.opened(files[0], keyring, provider=provider) as (got, dump):
                    archive.load(target, got, dump)
                os.unlink(target.removeprefix("sqlite:///"))

            creates.append(create)
            restores.append(restore)
        anchor, *create_s = _medians(creates, args.repeat)
        restore_s = _medians(restores, args.repeat)
        rows = [(name, c, r) for (name, _w, _p), c, r in
                zip(cases, create_s, restore_s, strict=True)]
        for files in made:
            for path in files:
                path.unlink()
    base_create, base_restore = rows[0][1], rows[0][2]
    print(f"{'case':<32} {'create':>9} {'x env':>7} {'x dump':>7} {'restore':>9} {'x env':>7}")
    print(f"{'anchor: plain sqlite dump':<32} {anchor * 1e3:>7.1f}ms")
    for name, made_s, back_s in rows:
        print(f"{name:<32} {made_s * 1e3:>7.1f}ms {made_s / base_create:>6.2f}x "
              f"{made_s / anchor:>6.2f}x {back_s * 1e3:>7.1f}ms "
              f"{back_s / base_restore:>6.2f}x")
    print(f"# load average after: {load_average()}")
    return 0
