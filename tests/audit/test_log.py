"""AuditLog behaviour on SQLite and PostgreSQL: erase, sessions, checkpoints, refs, keys."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, inspect, select, text

from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.errors import StorageError
from medcrypt.crypto.server.audit import (
    SYSTEM_BOT,
    Action,
    Checkpoint,
    CheckpointSigner,
    format_witness,
    parse_witness_lines,
)
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import keys as keyops
from medcrypt.storage import migrate
from medcrypt.storage.audit import ENTRIES, HEAD, SUBJECT_KEYS, AuditEvent, AuditLog
from medcrypt.storage.db import make_engine, session_factory
from tests.support.audit import NOW, SERVER_KEY


def _count(engine: Engine, table: object, *where: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where))
                   .scalar_one())


def test_erasing_a_subject_shreds_details_but_not_the_chain(
    audit_log: AuditLog, audit_engine: Engine, public_keys: dict, database_url: str
) -> None:
    alice, bob = audit_log.pseudonym("patient", "alice"), audit_log.pseudonym("patient", "bob")
    admin = audit_log.pseudonym("admin", 1001)
    for i in range(5):
        audit_log.append(admin, Action.RELAY_ACCEPTED, alice, {"direction": i % 2})
        audit_log.append(admin, Action.RELAY_REFUSED, bob, {"reason": "epoch_shredded"})
    with audit_engine.connect() as conn:
        wrapped = conn.execute(select(SUBJECT_KEYS.c.wrapped)
                               .where(SUBJECT_KEYS.c.subject_ref == alice)).scalar_one().data

    audit_log.erase_subject(alice, actor=admin)

    entries = list(audit_log.export())
    mine = [e for e in entries if e.subject_ref == alice]
    assert len(mine) == 6 and all(e.state == "erased" and e.details is None for e in mine)
    assert mine[-1].action == Action.SUBJECT_ERASED
    theirs = [e for e in entries if e.subject_ref == bob]
    assert theirs and all(e.details == {"reason": "epoch_shredded"} for e in theirs)
    assert audit_log.checkpoint_if_due() is not None  # the checkpointer's pass
    assert audit_log.verify(public_keys).head_seq == len(entries)
    assert _count(audit_engine, SUBJECT_KEYS, SUBJECT_KEYS.c.subject_ref == alice) == 0
    if database_url.startswith("sqlite"):  # secure_delete + WAL truncation: bytes are gone
        db = Path(database_url.removeprefix("sqlite:///"))
        for path in (db, db.with_name(db.name + "-wal")):
            if path.exists():
                assert wrapped not in path.read_bytes()
    with pytest.raises(ValueError, match="system"):
        audit_log.erase_subject(SYSTEM_BOT, actor=admin)


def test_session_appends_commit_or_roll_back_with_the_caller(
    audit_engine: Engine, keyring: Keyring, signer: CheckpointSigner, public_keys: dict
) -> None:
    audit_log = AuditLog(audit_engine, keyring, clock=FixedClock(NOW), signer=signer)
    sessions = session_factory(audit_engine)
    ref = audit_log.pseudonym("pairing", b"\x01" * 16)
    with sessions() as session:
        audit_log.append(SYSTEM_BOT, Action.PAIRING_REGISTERED, ref, session=session)
        session.rollback()
    assert audit_log.head().seq == 0
    with sessions.begin() as session:
        done = audit_log.append(SYSTEM_BOT, Action.PAIRING_REGISTERED, ref, session=session)
    # Appends never sign (ADR 0036): the checkpointer does, after the commit.
    assert done.first_seq == done.last_seq == 1 and done.checkpoint is None
    signed = audit_log.checkpoint_if_due()
    assert signed is not None and signed.seq == 1
    assert audit_log.verify(public_keys).last_checkpoint_seq == 1


def test_checkpoint_if_due_by_count_and_by_time(
    audit_engine: Engine, keyring: Keyring, signer: CheckpointSigner, public_keys: dict
) -> None:
    clock = FixedClock(NOW)
    posted: list[Checkpoint] = []
    log = AuditLog(audit_engine, keyring, clock=clock, signer=signer, checkpoint_every=5,
                   checkpoint_interval=timedelta(hours=1),
                   on_checkpoint=lambda _session, cp: posted.append(cp))
    sessions = session_factory(audit_engine)
    first = log.checkpoint_if_due()
    assert first is not None and first.seq == 1  # nothing signed yet: a checkpoint entry
    assert log.checkpoint_if_due() is None
    for _ in range(4):  # under the count: nothing due, and the appends signed nothing
        with sessions.begin() as s:
            log.append(SYSTEM_BOT, Action.BOT_STARTED, SYSTEM_BOT, session=s)
    assert posted == [first] and log.checkpoint_if_due() is None
    log.append(SYSTEM_BOT, Action.BOT_STARTED, SYSTEM_BOT)
    by_count = log.checkpoint_if_due()
    assert by_count is not None and by_count.seq == 6
    # Twelve more: caught up in steps of at most five, so the count rule holds.
    for _ in range(12):
        log.append(SYSTEM_BOT, Action.CONFIG_CHANGED, SYSTEM_BOT, {"setting": "x"})
    by_tick = log.checkpoint_if_due()
    assert [c.seq for c in posted[2:]] == [11, 16]
    assert by_tick is not None and by_tick.seq == 16 and posted[2].prev_sig == by_count.sig
    clock.set(NOW + timedelta(minutes=59))
    assert log.checkpoint_if_due() is None
    clock.set(NOW + timedelta(hours=1, seconds=1))
    by_time = log.checkpoint_if_due()
    assert by_time is not None and by_time.prev_sig == by_tick.sig and by_time.seq == 18
    assert log.head().last_checkpoint == by_time
    witnesses = parse_witness_lines("\n".join(format_witness(c) for c in posted))
    report = log.verify(public_keys, witnesses=witnesses)
    assert (report.witnesses, report.witnessed_seq) == (len(posted), by_time.seq)


def test_engine_appends_signal_the_checkpointer_and_never_sign(
    audit_engine: Engine, keyring: Keyring, signer: CheckpointSigner, public_keys: dict
) -> None:
    signals: list[int] = []
    log = AuditLog(audit_engine, keyring, clock=FixedClock(NOW), signer=signer,
                   checkpoint_every=10, on_due=lambda: signals.append(log.head().seq))
    for _ in range(40):
        done = log.append(SYSTEM_BOT, Action.CONFIG_CHANGED, SYSTEM_BOT, {"setting": "relay"})
        assert done.checkpoint is None
    assert log.head().last_checkpoint is None and len(signals) == 31  # from the 10th on
    log.checkpoint_if_due()
    assert [c.seq for c in log.checkpoints()] == [10, 20, 30, 40]
    assert log.verify(public_keys).last_checkpoint_seq == 40


def test_bad_input_is_refused_before_anything_is_written(audit_log: AuditLog) -> None:
    ref = audit_log.pseudonym("patient", "carol")
    with pytest.raises(TypeError):
        audit_log.append(ref, "relay.accepted", ref)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pseudonym"):
        audit_log.append("+15551234567", Action.RELAY_ACCEPTED, ref)
    with pytest.raises(ValueError, match="content or an identifier"):
        audit_log.append_many([AuditEvent(ref, Action.RELAY_ACCEPTED, ref, {"size": 1}),
                               AuditEvent(ref, Action.RELAY_ACCEPTED, ref, {"body": "hi"})])
    with pytest.raises(ValueError):
        audit_log.append_many([])
    assert audit_log.head().seq == 0


def test_pseudonyms_survive_restarts_and_server_key_rotation(
    audit_engine: Engine, signer: CheckpointSigner
) -> None:
    v1 = Keyring({1: SERVER_KEY})
    ref = AuditLog(audit_engine, v1, clock=FixedClock(NOW)).pseudonym("patient", "+15550001111")
    rotated = Keyring({1: SERVER_KEY, 2: bytes(range(40, 72))})
    again = AuditLog(audit_engine, rotated, clock=FixedClock(NOW)).pseudonym(
        "patient", "+15550001111")
    assert again == ref and "5550001111" not in ref


def test_migration_creates_the_tables_and_keys_rewrap_covers_subject_keys(
    database_url: str, signer: CheckpointSigner, public_keys: dict
) -> None:
    migrate.upgrade(database_url)
    mine = [d for d in migrate.diff(database_url) if "audit_" in repr(d)]
    assert mine == []
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(select(HEAD.c.seq)).scalar_one() == 0
        v1 = Keyring({1: SERVER_KEY})
        log = AuditLog(engine, v1, clock=FixedClock(NOW), signer=signer)
        ref = log.pseudonym("patient", "dave")
        log.append(SYSTEM_BOT, Action.PAIRING_ACCEPTED, ref, {"method": "qr"})
        assert log.checkpoint_if_due() is not None  # signs entry 1: no entry of its own
        v2 = Keyring({2: bytes(range(40, 72)), 1: SERVER_KEY})
        # The subject keys and the secret are sealed under purpose DEKs of the key tree
        # (ADR 0037, Amendment 1): no row to re-seal; the KEK is rewrapped under v2.
        assert keyops.rewrap(session_factory(engine), v2) == 0
        with engine.connect() as conn:
            assert conn.execute(text("SELECT root_version FROM keks")).scalars().all() == [2]
        only_v2 = Keyring({2: bytes(range(40, 72))})
        fresh = AuditLog(engine, only_v2, clock=FixedClock(NOW))
        assert fresh.pseudonym("patient", "dave") == ref
        assert [e.details for e in fresh.export(subject=ref)] == [{"method": "qr"}]
        assert fresh.verify(public_keys).entries == 1
        # Downgrading past 0023 refuses while values are tree-sealed (tested in
        # tests/keytree/test_purpose_migration.py); this test is about the tables.
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_subject_keys"))
            conn.execute(text("DELETE FROM audit_secrets"))
    finally:
        engine.dispose()
    migrate.downgrade(database_url, "0001_initial")
    check = make_engine(database_url)
    try:
        assert not {t for t in inspect(check).get_table_names() if t.startswith("audit_")}
    finally:
        check.dispose()


def test_entries_table_counts_match_head(audit_log: AuditLog, audit_engine: Engine) -> None:
    audit_log.append_many([AuditEvent(SYSTEM_BOT, Action.BOT_STARTED, SYSTEM_BOT)] * 3)
    assert _count(audit_engine, ENTRIES) == audit_log.head().seq


def test_missing_tables_are_one_clear_storage_error(database_url: str, keyring: Keyring,
                                                    public_keys: dict) -> None:
    engine = make_engine(database_url)  # never migrated
    try:
        log = AuditLog(engine, keyring, clock=FixedClock(NOW))
        for call in (log.head, lambda: log.verify(public_keys), lambda: list(log.export()),
                     lambda: log.append(SYSTEM_BOT, Action.BOT_STARTED, SYSTEM_BOT),
                     lambda: log.pseudonym("patient", "x")):
            with pytest.raises(StorageError, match="migrate"):
                call()
    finally:
        engine.dispose()
