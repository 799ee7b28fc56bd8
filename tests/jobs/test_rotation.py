"""Rotation: one epoch row per pairing and one notice per member, however often it runs."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from medcrypt.bot.domain.lifecycle.rotation import rotate
from medcrypt.bot.domain.services import JOB_CACHE_KIB
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.storage.models.audit import AuditEntry
from medcrypt.storage.models.epochs import Epoch
from tests.support.jobs import add_pairing, context, epoch_rows, notices_for

NOV = datetime(2026, 11, 20, tzinfo=UTC)
DEC1 = datetime(2026, 12, 1, 0, 0, 5, tzinfo=UTC)


def test_rotation_is_idempotent_and_notifies_once(migrated_database_url: str) -> None:
    clock = FixedClock(NOV)
    with context(migrated_database_url, clock) as ctx:
        pairs = [add_pairing(ctx, start_epoch=epoch_of(NOV), at=NOV) for _ in range(5)]
        clock.set(DEC1)
        first = rotate(ctx, DEC1, batch=2)
        second = rotate(ctx, DEC1, batch=2)
        assert (first.epochs_created, first.epochs_retired, first.notices_queued) == (5, 5, 10)
        assert (second.epochs_created, second.epochs_retired, second.notices_queued) == (0, 0, 0)
        with ctx.sessions() as s:
            for p in pairs:
                assert epoch_rows(s, p.pairing_id) == [
                    (p.pairing_id, epoch_of(NOV), "retired"),
                    (p.pairing_id, epoch_of(DEC1), "active")]
                for member in (p.physician_id, p.patient_id):
                    texts = notices_for(s, member)
                    assert len(texts) == 1
                    assert "2026-12" in texts[0] and "2026-12-08 00:00" in texts[0]
            actions = s.scalars(select(AuditEntry.action)).all()
            assert actions.count("keys.epoch_rotated") == 5
            assert actions.count("keys.epoch_retired") == 5
            started = s.scalar(select(Epoch.started_at).where(Epoch.epoch == epoch_of(DEC1)))
            assert started == datetime(2026, 12, 1, tzinfo=UTC)


def test_rotation_in_start_month_sends_nothing(migrated_database_url: str) -> None:
    clock = FixedClock(NOV)
    with context(migrated_database_url, clock) as ctx:
        p = add_pairing(ctx, start_epoch=epoch_of(NOV), at=NOV)
        result = rotate(ctx, NOV)
        assert (result.epochs_created, result.notices_queued) == (0, 0)
        with ctx.sessions() as s:
            assert notices_for(s, p.patient_id) == []


def test_a_run_gives_its_sqlite_page_cache_back(sqlite_url: str) -> None:
    """The job-sized cache lives only as long as the run: every pooled connection
    afterwards has the cache size it had before, even when the run failed."""
    clock = FixedClock(NOV)
    with context(sqlite_url, clock) as ctx:
        add_pairing(ctx, start_epoch=epoch_of(NOV), at=NOV)
        with ctx.engine.connect() as conn:
            default = conn.exec_driver_sql("PRAGMA cache_size").scalar()
        assert default != -JOB_CACHE_KIB
        with ctx.run_sessions() as sessions, sessions() as s:
            assert s.connection().exec_driver_sql("PRAGMA cache_size").scalar() \
                == -JOB_CACHE_KIB
        rotate(ctx, DEC1)
        with pytest.raises(RuntimeError), ctx.run_sessions():
            raise RuntimeError("a job failing mid-run")
        with ExitStack() as stack:  # every connection the pool holds, at once
            conns = [stack.enter_context(ctx.engine.connect())
                     for _ in range(ctx.engine.pool.checkedin())]  # type: ignore[attr-defined]
            assert conns
            assert {c.exec_driver_sql("PRAGMA cache_size").scalar() for c in conns} == {default}
