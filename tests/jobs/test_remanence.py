"""The post-shred scrub: a busy WAL is retried by the next sweep; VACUUM modes on PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, text

from medcrypt.bot.domain.lifecycle.rotation import rotate
from medcrypt.bot.domain.lifecycle.shred import sweep
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.storage.remanence import scrub
from tests.support.jobs import add_pairing, add_token, context

OCT = datetime(2026, 10, 10, tzinfo=UTC)
E = epoch_of(OCT)


def _raw(url: str) -> bytes:
    path = Path(url.removeprefix("sqlite:///"))
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


@pytest.mark.slow
def test_busy_checkpoint_is_recorded_and_retried_by_the_next_sweep(sqlite_url: str) -> None:
    clock = FixedClock(OCT)
    with context(sqlite_url, clock) as ctx:
        p = add_pairing(ctx, start_epoch=E, at=OCT)
        blob = add_token(ctx, p.pairing_id, E, OCT)
        rotate(ctx, datetime(2026, 11, 1, tzinfo=UTC))
        reader = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
        reader.isolation_level = None
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM stored_tokens").fetchone()  # pins a snapshot
        ctx.engine.dispose()  # no pooled connection of ours keeps the old frames either
        # Each checkpoint attempt waits out the busy timeout (5 s in the product) before it
        # reports "busy"; the reader holds its snapshot until we let go, so waiting longer
        # only costs time. Runs after the product's own connect hook, on new connections.
        event.listen(ctx.engine, "connect",
                     lambda dbapi, _rec: dbapi.execute("PRAGMA busy_timeout = 100"))
        try:
            first = sweep(ctx, datetime(2026, 11, 8, tzinfo=UTC))
            assert first.epochs_shredded == 1 and first.scrub == "busy"
            assert blob[-48:] in _raw(sqlite_url)  # still in the WAL: that is the point
        finally:
            reader.execute("COMMIT")
            reader.close()
        second = sweep(ctx, datetime(2026, 11, 8, 1, tzinfo=UTC))
        assert second.epochs_shredded == 0 and second.scrub == "sqlite_wal_checkpoint_truncate"
        assert blob[-48:] not in _raw(sqlite_url)


@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["none", "vacuum", "vacuum_full"])
def test_postgres_vacuum_modes(postgres_url: str, mode: str) -> None:
    with context(postgres_url, FixedClock(OCT)) as ctx:
        filenode = text("SELECT pg_relation_filenode('stored_tokens')")
        with ctx.engine.connect() as conn:
            before = conn.execute(filenode).scalar()
        done = scrub(ctx.engine, mode)  # type: ignore[arg-type]
        assert done == ("none" if mode == "none" else f"postgres_{mode}")
        with ctx.engine.connect() as conn:
            after = conn.execute(filenode).scalar()
        # VACUUM FULL rewrites the table into a new file (the old one is released to the
        # filesystem); plain VACUUM keeps the file and only marks dead tuples reusable.
        assert (after != before) == (mode == "vacuum_full")
