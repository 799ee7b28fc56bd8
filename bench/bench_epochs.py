"""Closing a shred epoch (issue 17): rewrap every live DEK under a new KEK.

A database with ``--persons`` per-person DEKs (default 100,000) under one KEK; then
``close_epoch`` - a new KEK under a newer root version, every DEK rewrapped in batches
of ``--batch`` (one transaction each, compare-and-set per row), the old KEK retired,
the old root version destroyed (PKCS#11) or named for the operator (env). Printed: the
wall time, the time per 1,000 DEKs, DEKs rewrapped and provider calls (which must not
grow with the persons), next to the anchor measured in the same run: unwrapping and
rewrapping one DEK in memory (the pure crypto of a rewrap), per 1,000.

Run: ``python -m bench.run epochs [--persons N] [--batch B] [--provider env|pkcs11]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bench.harness import load_average, measure
from medcrypt.crypto.server import keytree as kt
from medcrypt.crypto.server.keyring import Keyring, generate_key
from medcrypt.storage import deks, kek_epochs
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.migrate import upgrade
from medcrypt.storage.models.keytree import Dek

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _fill(sessions: Any, tree: kt.KeyTree, persons: int) -> None:
    """``persons`` person DEKs under the current KEK, inserted in bulk."""
    with sessions.begin() as s:
        kek_id, kek_wrapped = deks.current_kek(s, tree, now=NOW)
    chunk = 5000
    for start in range(0, persons, chunk):
        rows = []
        for _ in range(min(chunk, persons - start)):
            row = tree.create_dek(purpose="identity", person_id=uuid.uuid4().hex,
                                  kek_id=kek_id, kek_wrapped=kek_wrapped)
            rows.append({"id": row.dek_id, "version": 1, "purpose": row.purpose,
                         "person_id": row.person_id, "kek_id": kek_id,
                         "wrapped": row.wrapped, "created_at": NOW})
        with sessions.begin() as s:
            s.execute(insert(Dek), rows)
        tree.wipe()  # the fill's cache is not the close's to use


def _anchor() -> float:
    """Unwrap + rewrap of one DEK in memory, microseconds per DEK (median)."""
    old, new = bytearray(os.urandom(32)), bytearray(os.urandom(32))
    dek_id = kt.new_id()
    wrapped = kt.wrap_dek(old, bytearray(os.urandom(32)), purpose="identity", person_id="p",
                          dek_id=dek_id, version=1, kek_id="a")

    def once() -> None:
        key = kt.unwrap_dek(old, wrapped, purpose="identity", person_id="p", dek_id=dek_id,
                            version=1, kek_id="a")
        kt.wrap_dek(new, key, purpose="identity", person_id="p", dek_id=dek_id, version=1,
                    kek_id="b")

    return measure("anchor", once, number=1000, repeat=5).per_op_us


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_epochs")
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=kek_epochs.DEFAULT_BATCH)
    parser.add_argument("--provider", choices=("env", "pkcs11"), default="env")
    parser.add_argument("--quick", action="store_true", help="smaller run (smoke test)")
    args, _ = parser.parse_known_args(argv)
    if args.quick:
        args.persons = 2000
    print(f"\n## closing a shred epoch: {args.persons:,} persons, batches of {args.batch}, "
          f"provider {args.provider}")
    print(f"# load average before: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="medcrypt-bench-epochs-") as tmp, \
            ExitStack() as stack:
        url = f"sqlite:///{Path(tmp) / 'epochs.db'}"
        upgrade(url)
        engine = make_engine(url)
        stack.callback(engine.dispose)
        sessions = session_factory(engine)
        admin: Any = None
        if args.provider == "pkcs11":
            from medcrypt.bot.keyproviders.pkcs11 import Pkcs11Provider
            from tests.support import keyservers

            hsm = stack.enter_context(keyservers.softhsm())
            admin = Pkcs11Provider(hsm.module, hsm.token, hsm.pin,
                                   prefix="e" + uuid.uuid4().hex[:12], create=True)
            stack.callback(admin.close)
            tree = kt.KeyTree(admin, monotonic=time.monotonic)
            fill_tree = tree
        else:
            first = generate_key()
            fill_tree = deks.tree_of(Keyring.from_env_value(f"1:{first}"))
            tree = deks.tree_of(Keyring.from_env_value(f"2:{generate_key()},1:{first}"))
        t0 = time.perf_counter()
        _fill(sessions, fill_tree, args.persons)
        print(f"# fill: {time.perf_counter() - t0:.1f} s")
        anchor = _anchor()
        t0 = time.perf_counter()
        report = kek_epochs.close_epoch(sessions, tree, admin, now=NOW + timedelta(days=30),
                                        batch=args.batch)
        took = time.perf_counter() - t0
    per_k = took / max(report.rewrapped, 1) * 1000
    print(f"close-epoch: {took:.2f} s; {report.rewrapped:,} DEKs rewrapped; "
          f"{report.provider_calls} provider calls; {report.retired} KEK retired; "
          f"root versions destroyed {report.destroyed_versions or '-'} "
          f"(env, for the operator: {report.removable_env_versions or '-'})")
    print(f"per 1,000 DEKs: {per_k * 1000:.1f} ms; anchor (in-memory unwrap+rewrap) "
          f"{anchor:.2f} us/DEK = {anchor:.1f} ms per 1,000; ratio "
          f"{per_k * 1000 / anchor:.1f}x")
    print(f"# load average after: {load_average()}")
    return 0
