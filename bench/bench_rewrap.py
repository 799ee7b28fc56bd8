"""Re-sealing rows under new DEKs (issue 17): ``keys rewrap`` over N rows of a database
written under the v1 keyring, as rows/s and as a ratio to the raw AEAD over the same
bytes in the same run.

The database mixes the sealed columns the way a clinic's does: identities (address and
label under a DEK per person, so one DEK made per row), break-glass reasons (the
``breakglass`` purpose DEK) and audit subject keys (the ``audit-subject`` purpose DEK).
Each round builds a fresh SQLite database of N v1 rows, then times one
``storage.keys.rewrap`` run (batched, committing per batch) to convert them all.

The anchor is what rewrap cannot avoid per value: one XChaCha20-Poly1305 open of the
old value and one seal of the new, over the same plaintexts, with no database. The
ratio says how much the database, the ORM and the DEK row checks add on top.

Run: ``python -m bench.run rewrap [--rows N] [--rounds R] [--batch B]``.
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from sqlalchemy import text

from bench.harness import Measurement, load_average, measure, report
from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.keys import count_stale, rewrap
from medcrypt.storage.migrate import upgrade

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _values(rows: int) -> list[tuple[str, str, str, bytes]]:
    """(table, column, row id, plaintext) for ``rows`` values: 3 in 5 identity values
    (address, and a label on every other one), 1 in 5 reasons, 1 in 5 audit keys."""
    out: list[tuple[str, str, str, bytes]] = []
    i = 0
    while len(out) < rows:
        row_id = f"{i:032x}"
        kind = i % 4
        if kind in (0, 1):
            out.append(("platform_identities", "address", row_id, f"+1555{i:07d}".encode()))
            if kind == 0 and len(out) < rows:
                out.append(("platform_identities", "label", row_id, f"Person {i}".encode()))
        elif kind == 2:
            out.append(("breakglass_requests", "reason", row_id,
                        f"ICU admission {i}: physician unreachable".encode()))
        else:
            out.append(("audit_subject_keys", "wrapped", f"patient:{i:024x}",
                        base64.b64encode(os.urandom(32))))
        i += 1
    return out


def _build(url: str, ring: Keyring, values: list[tuple[str, str, str, bytes]]) -> None:
    """Write the rows as code before the key tree did: v1 keyring values, no DEKs."""
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            identities: dict[str, dict[str, object]] = {}
            for table, column, row_id, plain in values:
                sealed = ring.seal(plain, (table, column, row_id))
                if table == "platform_identities":
                    row = identities.setdefault(row_id, {
                        "id": row_id, "label": None, "t": NOW,
                        "b": ring.blind_index(table, "address", row_id)})
                    row[column] = sealed
                elif table == "breakglass_requests":
                    conn.execute(text(
                        "INSERT INTO breakglass_requests (id, code, pairing_id, requester_id, "
                        "status, reason, requested_at, expires_at) VALUES (:id, :code, :p, "
                        ":r, 'denied', :s, :t, :e)"), {
                        "id": row_id, "code": row_id[-10:], "p": os.urandom(16),
                        "r": "f" * 32, "s": sealed, "t": NOW, "e": NOW + timedelta(hours=1)})
                else:
                    conn.execute(text("INSERT INTO audit_subject_keys (subject_ref, wrapped, "
                                      "created_us) VALUES (:r, :w, 1)"),
                                 {"r": row_id, "w": sealed})
            conn.execute(text(
                "INSERT INTO platform_identities (id, platform, address, address_bidx, label, "
                "role, created_at) VALUES (:id, 'whatsapp', :address, :b, :label, "
                "'patient', :t)"), list(identities.values()))
    finally:
        engine.dispose()


def _rewrap_once(tmp: Path, n: int, rows: int, batch: int, env: str) -> tuple[float, int]:
    """Build a fresh database of ``rows`` v1 values; time one rewrap of all of them."""
    url = f"sqlite:///{tmp / f'rewrap-{n}.db'}"
    ring = Keyring.from_env_value(env)
    values = _values(rows)
    _build(url, ring, values)
    engine = make_engine(url)
    sessions = session_factory(engine)
    try:
        t0 = time.perf_counter()
        done = rewrap(sessions, ring, batch_size=batch)
        elapsed = time.perf_counter() - t0
        with sessions() as s:
            left = sum(count_stale(s, ring).values())
        if done != rows or left:
            raise RuntimeError(f"rewrap converted {done} of {rows} values, {left} left")
        return elapsed, done
    finally:
        engine.dispose()
        ring.wipe()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_rewrap")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="smaller run (smoke test)")
    args, _ = parser.parse_known_args(argv)
    if args.quick:
        args.rows, args.rounds = 400, 3
    # rewrap logs a line per batch: keep the figures readable.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    env = "1:" + base64.b64encode(os.urandom(32)).decode()
    values = _values(args.rows)
    old_key, new_key = bytearray(os.urandom(32)), bytearray(os.urandom(32))
    aad = b"x" * 96  # the size of a tree value's AAD (label, DEK, table, column, row)
    nonces = [os.urandom(24) for _ in values]
    sealed = [(n, prim.xchacha_encrypt(old_key, n, p, aad))
              for n, (*_, p) in zip(nonces, values, strict=True)]

    def raw() -> None:  # what rewrap must do per value: open the old one, seal the new
        for nonce, ct in sealed:
            plain = prim.xchacha_decrypt(old_key, nonce, ct, aad)
            prim.xchacha_encrypt(new_key, os.urandom(24), plain, aad)

    print(f"# load average before: {load_average()}")
    whole = measure(f"raw AEAD open+seal, {args.rows} values (anchor)", raw,
                    number=1, repeat=args.rounds)
    anchor = Measurement(whole.name, whole.median_s, args.rows)  # per value
    with tempfile.TemporaryDirectory(prefix="medcrypt-bench-rewrap-") as tmp:
        timings = [_rewrap_once(Path(tmp), n, args.rows, args.batch, env)[0]
                   for n in range(args.rounds)]
    print(f"# load average after: {load_average()}")
    run = Measurement(f"keys rewrap, {args.rows} v1 rows -> DEKs (batch {args.batch})",
                      statistics.median(timings), args.rows)
    report("re-sealing rows under new DEKs (per row; ratio to the raw AEAD)",
           [anchor, run], anchor)
    per_s = args.rows / run.median_s
    print(f"keys rewrap: {per_s:,.0f} rows/s (median of {args.rounds}); raw AEAD: "
          f"{args.rows / anchor.median_s:,.0f} values/s; rewrap/raw time ratio "
          f"{run.median_s / anchor.median_s:.1f}x")
    return 0
