"""A restore is the audit log's one recognised break, because it is signed.

The story: the log is backed up, grows, a checkpoint's witness line is posted to the
admins' chat, then the database is restored from the backup. The witness line names a
seq the restored chain reuses with other entries. Before: ``audit verify --witness``
failed blindly ("the chain was rewritten") - indistinguishable from an attacker's cut.
After: ``backup restore`` appends a signed ``audit.restored`` entry, and the verdict
sets that witness aside as lost history. A database writer without the signing key
cannot forge that excuse: a restore entry not closed by its own checkpoint breaks the
log at its seq.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, delete, insert, select

from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.errors import AuditChainBroken, ConfigError
from medcrypt.crypto.server.audit import (
    Action,
    CheckpointSigner,
    format_witness,
    parse_witness_lines,
    system_ref,
)
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.audit import AuditEvent, AuditLog
from medcrypt.storage.db import make_engine
from medcrypt.storage.models import load_all
from tests.support.audit import AUDIT_TABLES, NOW, SERVER_KEY, SIGNING_SEED, fill

RESTORE = system_ref("restore")
Snapshot = dict[str, list[dict[str, object]]]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    load_all().create_all(eng, tables=AUDIT_TABLES)
    yield eng
    eng.dispose()


def _log(engine: Engine, clock: FixedClock, *, signed: bool = True) -> AuditLog:
    return AuditLog(engine, Keyring({1: SERVER_KEY}), clock=clock,
                    signer=CheckpointSigner(SIGNING_SEED) if signed else None,
                    checkpoint_every=500)


def _snapshot(engine: Engine) -> Snapshot:
    with engine.connect() as conn:
        return {t.name: [dict(r) for r in conn.execute(select(t)).mappings()]
                for t in AUDIT_TABLES}


def _restore(engine: Engine, snap: Snapshot) -> None:
    with engine.begin() as conn:
        for table in reversed(AUDIT_TABLES):  # the key tree's tables are referenced
            conn.execute(delete(table))
        for table in AUDIT_TABLES:
            if snap[table.name]:
                conn.execute(insert(table), snap[table.name])


def _restore_event(backup_head: int, lost_to: int) -> AuditEvent:
    return AuditEvent(RESTORE, Action.AUDIT_RESTORED, RESTORE,
                      {"backup_head_seq": backup_head, "lost_from_seq": backup_head + 1,
                       "lost_to_seq": lost_to, "backup_created_us": 0})


def _history(engine: Engine) -> tuple[FixedClock, Snapshot, int, str]:
    """Backup after 300 entries; 200 more and a witnessed checkpoint; then restore."""
    clock = FixedClock(NOW)
    log = _log(engine, clock)
    fill(log, 300)
    log.checkpoint_now()
    snap = _snapshot(engine)
    backup_head = log.head().seq
    clock.set(NOW + timedelta(hours=2))
    fill(log, 200)
    lost_witness = format_witness(log.checkpoint_now())
    lost_to = log.head().seq
    clock.set(NOW + timedelta(days=3))
    _restore(engine, snap)
    return clock, snap, backup_head, lost_witness + f"\n# lost_to {lost_to}"


def _keys() -> dict[bytes, object]:
    signer = CheckpointSigner(SIGNING_SEED)
    return {signer.key_id: signer.public_key}


def test_without_a_restore_entry_the_lost_witness_fails_blindly(engine: Engine) -> None:
    clock, _snap, _head, witness = _history(engine)
    log = _log(engine, clock)
    fill(log, 10)  # the restored bot carries on
    with pytest.raises(AuditChainBroken, match=r"rewritten|truncated|differs"):
        log.verify(_keys(), witnesses=parse_witness_lines(witness))  # type: ignore[arg-type]


def test_a_signed_restore_entry_sets_the_lost_witness_aside(engine: Engine) -> None:
    clock, _snap, backup_head, witness = _history(engine)
    log = _log(engine, clock)  # a new process, as `backup restore` is
    appended = log.append_signed([_restore_event(backup_head, 0)])
    assert appended.first_seq == backup_head + 1
    assert appended.checkpoints[-1].seq == appended.last_seq + 1
    clock.set(clock.now() + timedelta(minutes=5))
    fill(log, 10)
    new_witness = format_witness(log.checkpoint_now())
    witnesses = parse_witness_lines(witness + "\n" + new_witness)
    report = log.verify(_keys(), witnesses=witnesses)  # type: ignore[arg-type]
    assert [m.seq for m in report.restores] == [backup_head + 1]
    assert report.witnesses_set_aside == 1
    assert report.witnesses == 1  # the witness of the new history is still checked
    export = list(log.export(from_seq=backup_head + 1, to_seq=backup_head + 1))
    assert export[0].action == Action.AUDIT_RESTORED.value
    assert export[0].details is not None
    assert export[0].details["lost_from_seq"] == backup_head + 1


def test_a_witness_of_the_new_history_still_catches_a_later_cut(engine: Engine) -> None:
    clock, snap, backup_head, _witness = _history(engine)
    log = _log(engine, clock)
    log.append_signed([_restore_event(backup_head, 0)])
    clock.set(clock.now() + timedelta(minutes=5))
    fill(log, 10)
    witness = format_witness(log.checkpoint_now())
    _restore(engine, snap)  # an attacker cuts back to the backup, dropping the restore
    with pytest.raises(AuditChainBroken):
        _log(engine, clock).verify(_keys(),  # type: ignore[arg-type]
                                   witnesses=parse_witness_lines(witness))


def test_a_restore_entry_without_its_own_checkpoint_is_refused(engine: Engine) -> None:
    clock, _snap, backup_head, witness = _history(engine)
    clock.set(NOW + timedelta(days=3, minutes=1))
    forger = _log(engine, clock, signed=False)  # a database writer, no signing key
    forger.append(RESTORE, Action.AUDIT_RESTORED, RESTORE, {"backup_head_seq": backup_head})
    with pytest.raises(AuditChainBroken, match="restore entry is not signed") as caught:
        _log(engine, clock).verify(_keys(),  # type: ignore[arg-type]
                                   witnesses=parse_witness_lines(witness))
    assert caught.value.seq == backup_head + 1


def test_append_signed_needs_the_signing_key(engine: Engine) -> None:
    log = _log(engine, FixedClock(NOW), signed=False)
    with pytest.raises(ConfigError, match="signing key"):
        log.append_signed([_restore_event(0, 0)])
