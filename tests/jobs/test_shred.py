"""Retire then shred: warnings, deletion of every stored row, audit counts, no remanence."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from medcrypt.bot.domain.lifecycle.policy import epoch_status
from medcrypt.bot.domain.lifecycle.rotation import rotate
from medcrypt.bot.domain.lifecycle.shred import shred_pairing, sweep
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.crypto.server.audit import Action
from medcrypt.storage.models.audit import AuditEntry
from medcrypt.storage.models.escrow import EscrowDeposit
from medcrypt.storage.models.tokens import StoredToken
from tests.support.jobs import (
    add_escrow,
    add_pairing,
    add_token,
    context,
    count,
    epoch_rows,
    notices_for,
)

OCT = datetime(2026, 10, 15, tzinfo=UTC)
NOV1 = datetime(2026, 11, 1, tzinfo=UTC)
E_OCT = epoch_of(OCT)


def _raw_bytes(url: str) -> bytes:
    path = Path(url.removeprefix("sqlite:///"))
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_sweep_warns_then_shreds_exactly_at_grace_end(database_url: str) -> None:
    clock = FixedClock(OCT)
    with context(database_url, clock) as ctx:
        p = add_pairing(ctx, start_epoch=E_OCT, at=OCT)
        other = add_pairing(ctx, start_epoch=E_OCT, at=OCT, grace_days=14)
        tokens = [add_token(ctx, p.pairing_id, E_OCT, OCT) for _ in range(3)]
        deposit = add_escrow(ctx, p.pairing_id, E_OCT, OCT)
        kept = add_token(ctx, other.pairing_id, E_OCT, OCT)
        rotate(ctx, NOV1)
        with ctx.sessions() as s:
            assert epoch_status(s, p.pairing_id, E_OCT, NOV1) == "retired"
            assert epoch_status(s, p.pairing_id, E_OCT + 1, NOV1) == "active"
            assert epoch_status(s, p.pairing_id, E_OCT + 2, NOV1) == "future"
            assert epoch_status(s, p.pairing_id, E_OCT - 1, NOV1) == "unknown"
            assert epoch_status(s, "00" * 16, E_OCT, NOV1) == "unknown"
        # Nov 6 12:00: more than a day before Nov 8 00:00 - nothing.
        r = sweep(ctx, datetime(2026, 11, 6, 12, tzinfo=UTC))
        assert (r.warnings_queued, r.epochs_shredded) == (0, 0)
        # Nov 7 00:00: exactly a day before - warn both members, once.
        r = sweep(ctx, datetime(2026, 11, 7, tzinfo=UTC))
        assert (r.warnings_queued, r.epochs_shredded) == (2, 0)
        r = sweep(ctx, datetime(2026, 11, 7, 23, 59, 59, tzinfo=UTC))
        assert (r.warnings_queued, r.epochs_shredded) == (0, 0)
        with ctx.sessions() as s:
            assert epoch_status(s, p.pairing_id, E_OCT,
                                datetime(2026, 11, 7, 23, 59, 59, tzinfo=UTC)) == "retired"
            # Refused at grace end even before the sweep runs: the calendar decides.
            assert epoch_status(s, p.pairing_id, E_OCT, datetime(2026, 11, 8, tzinfo=UTC)) \
                == "shredded"
        r = sweep(ctx, datetime(2026, 11, 8, tzinfo=UTC))
        assert r.epochs_shredded == 1
        assert (r.counts["tokens"], r.counts["escrow"], r.counts["notices"]) == (3, 1, 2)
        again = sweep(ctx, datetime(2026, 11, 8, 1, tzinfo=UTC))
        assert again.epochs_shredded == 0
        with ctx.sessions() as s:
            assert (p.pairing_id, E_OCT, "shredded") in epoch_rows(s, p.pairing_id)
            assert s.scalar(select(StoredToken.id).where(
                StoredToken.pairing_id == p.pairing_id)) is None
            assert count(s, EscrowDeposit) == 0
            assert count(s, StoredToken) == 1  # the 14-day pairing keeps its October
            texts = notices_for(s, p.patient_id)
            assert [t.split(":")[1].split()[0] for t in texts] == ["new", "messages", "the"]
            assert "2026-11-08 00:00" in texts[1] and "2026-10" in texts[2]
            entry = s.scalars(select(AuditEntry).where(
                AuditEntry.action == Action.EPOCH_SHREDDED.value)).one()
            assert entry.subject_ref == ctx.pairing_ref(p.pairing_id)
        if database_url.startswith("sqlite"):
            raw = _raw_bytes(database_url)
            for blob in [*tokens, deposit]:
                assert blob not in raw and blob[-64:] not in raw
            assert kept[-64:] in raw  # the scan can see what is still stored


def test_shred_pairing_is_immediate_and_refuses_current_epoch(migrated_database_url: str) -> None:
    now = datetime(2026, 11, 15, tzinfo=UTC)
    clock = FixedClock(now)
    with context(migrated_database_url, clock) as ctx:
        p = add_pairing(ctx, start_epoch=E_OCT, at=OCT)
        rotate(ctx, NOV1)
        add_token(ctx, p.pairing_id, E_OCT + 1, now)
        counts = shred_pairing(ctx, p.pairing_id, now, actor=ctx.identity_ref("admin"),
                               reason="admin_request")
        assert (counts["epochs"], counts["tokens"], counts["notices"]) == (2, 1, 2)
        with ctx.sessions() as s:
            assert epoch_status(s, p.pairing_id, E_OCT + 1, now) == "shredded"
            assert {st for _p, _e, st in epoch_rows(s, p.pairing_id)} == {"shredded"}
        assert shred_pairing(ctx, p.pairing_id, now, actor="system:cli", reason="again")[
            "epochs"] == 0
