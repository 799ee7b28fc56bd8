"""Closing a shred epoch (issue 17): rewrap every live DEK under a new KEK.

A database with ``--persons`` persons (default 100,000) under one KEK - each a DEK and
an identity row whose address is sealed under it and indexed under the epoch's index DEK
(``--deks-only``: the DEKs alone, as measured before blind indexes were per epoch); then
``close_epoch`` - a new KEK under a newer root version, every blind index recomputed
under the new index DEK (each address opened under its DEK), every DEK rewrapped in
batches
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
from medcrypt.storage import deks, index_keys, kek_epochs
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.encrypted import Sealed
from medcrypt.storage.migrate import upgrade
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.keytree import Dek

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _fill(sessions: Any, tree: kt.KeyTree, persons: int, *, identities: bool) -> None:
    """``persons`` person DEKs under the current KEK, inserted in bulk; with
    ``identities``, each person's identity row too (address sealed under their DEK,
    blind index under the epoch's index DEK), as the relay writes them."""
    with sessions.begin() as s:
        kek_id, kek_wrapped = deks.current_kek(s, tree, now=NOW)
        index_key = index_keys.current_key(s, tree, now=NOW) if identities else None
    chunk = 5000
    for start in range(0, persons, chunk):
        rows, people = [], []
        for n in range(start, min(start + chunk, persons)):
            person = uuid.uuid4().hex
            row = tree.create_dek(purpose="identity", person_id=person,
                                  kek_id=kek_id, kek_wrapped=kek_wrapped)
            rows.append({"id": row.dek_id, "version": 1, "purpose": row.purpose,
                         "person_id": person, "kek_id": kek_id,
                         "wrapped": row.wrapped, "created_at": NOW})
            if index_key is not None:
                phone = f"+1555{n:07d}"
                key = tree.dek(row, kek_wrapped)
                people.append({
                    "id": person, "platform": "whatsapp", "role": "patient",
                    "created_at": NOW, "dek_id": row.dek_id, "dek_version": 1,
                    "address": Sealed(kt.seal_value(key, row.ref, phone.encode(),
                                                    table="platform_identities",
                                                    column="address", row_id=person)),
                    "address_bidx": index_key.index("platform_identities", "address",
                                                    phone)})
        with sessions.begin() as s:
            s.execute(insert(Dek), rows)
            if people:
                s.execute(insert(PlatformIdentity), people)
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
    parser.add_argument("--deks-only", action="store_true",
                        help="DEK rows only, no identity rows (no blind index to "
                             "recompute: the close as measured before ADR 0039 Am. 1)")
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
        _fill(sessions, fill_tree, args.persons, identities=not args.deks_only)
        print(f"# fill: {time.perf_counter() - t0:.1f} s")
        anchor = _anchor()
        t0 = time.perf_counter()
        report = kek_epochs.close_epoch(sessions, tree, admin, now=NOW + timedelta(days=30),
                                        batch=args.batch)
        took = time.perf_counter() - t0
    per_k = took / max(report.rewrapped, 1) * 1000
    print(f"close-epoch: {took:.2f} s; {report.reindexed:,} blind indexes recomputed; "
          f"{report.rewrapped:,} DEKs rewrapped; "
          f"{report.provider_calls} provider calls; {report.retired} KEK retired; "
          f"root versions destroyed {report.destroyed_versions or '-'} "
          f"(env, for the operator: {report.removable_env_versions or '-'})")
    print(f"per 1,000 persons: {per_k * 1000:.1f} ms; anchor (in-memory unwrap+rewrap) "
          f"{anchor:.2f} us/DEK = {anchor:.1f} ms per 1,000; ratio "
          f"{per_k * 1000 / anchor:.1f}x")
    print(f"# load average after: {load_average()}")
    return 0
