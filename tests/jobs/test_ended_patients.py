"""A patient whose last pairing ended is erased by the sweep once its last month is
shredded - DEK destroyed and recorded - while physicians and patients still paired
elsewhere are not."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from medcrypt.bot.domain.lifecycle.rotation import rotate
from medcrypt.bot.domain.lifecycle.runs import run_job
from medcrypt.bot.domain.lifecycle.shred import shred_pairing
from medcrypt.bot.domain.services import SCHEDULER_REF
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.keyless.epochs import epoch_of
from medcrypt.storage.backup.erasure_record import ErasureRecord, dek_id_of
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.keytree import Dek
from medcrypt.storage.repos.pairings import set_status_of
from tests.support.jobs import add_pairing, context

OCT = datetime(2026, 10, 15, tzinfo=UTC)
NOV1 = datetime(2026, 11, 1, tzinfo=UTC)
E_OCT = epoch_of(OCT)


def test_the_sweep_erases_a_patient_after_their_last_pairing_and_its_grace(
        sqlite_url: str, tmp_path: Path) -> None:
    with context(sqlite_url, FixedClock(OCT)) as base:
        record = ErasureRecord(tmp_path / "erasure-record", base.keyring)
        ctx = dataclasses.replace(base, erasure_record=record)
        gone = add_pairing(ctx, start_epoch=E_OCT, at=OCT)
        stays = add_pairing(ctx, start_epoch=E_OCT, at=OCT)
        with ctx.sessions.begin() as s:  # /unpair of the first pairing
            set_status_of(s, [gone.pairing_id], "unpaired")
        rotate(ctx, NOV1)
        early = run_job(ctx, "shred_sweep", trigger="manual",
                        now=datetime(2026, 11, 7, tzinfo=UTC))
        assert early.summary["erased_patients"] == 0  # October's grace has not ended
        with ctx.sessions() as s:
            dek_id = s.scalars(select(Dek.id).where(Dek.person_id == gone.patient_id)).one()
        done = run_job(ctx, "shred_sweep", trigger="manual",
                       now=datetime(2026, 11, 8, tzinfo=UTC))
        assert done.summary["epochs_shredded"] == 2 and done.summary["erased_patients"] == 1
        with ctx.sessions() as s:
            def row(identity_id: str) -> PlatformIdentity:
                found = s.get(PlatformIdentity, identity_id)
                assert found is not None
                return found

            erased = row(gone.patient_id)
            assert erased.deleted_at is not None and erased.address is None
            assert erased.address_bidx is None
            dek = s.get(Dek, dek_id)
            assert dek is not None and dek.wrapped is None and dek.destroyed_at is not None
            # exempt: the physician of the ended pairing; a patient still paired
            for kept in (gone.physician_id, stays.patient_id, stays.physician_id):
                assert row(kept).deleted_at is None and row(kept).address is not None
        facts = list(record.read())
        assert [f.kind for f in facts if f.kind in ("erased", "dek")] == ["erased", "dek"]
        assert dek_id_of(next(f.ref for f in facts if f.kind == "dek")) == dek_id
        again = run_job(ctx, "shred_sweep", trigger="manual",
                        now=datetime(2026, 11, 9, tzinfo=UTC))
        assert again.summary["erased_patients"] == 0


def test_a_patient_whose_pairing_shred_ended_is_kept(sqlite_url: str) -> None:
    """/shred ends a pairing for good and later tokens from the patient's number must
    still be refused with "shredded, pair again": the sweep does not erase that number."""
    with context(sqlite_url, FixedClock(OCT)) as ctx:
        p = add_pairing(ctx, start_epoch=E_OCT, at=OCT)
        shred_pairing(ctx, p.pairing_id, OCT, actor=SCHEDULER_REF, reason="lost_phone")
        rotate(ctx, NOV1)
        done = run_job(ctx, "shred_sweep", trigger="manual",
                       now=datetime(2026, 12, 20, tzinfo=UTC))
        assert done.summary["erased_patients"] == 0
        with ctx.sessions() as s:
            row = s.get(PlatformIdentity, p.patient_id)
            assert row is not None and row.deleted_at is None and row.address is not None
