"""``append_many`` - the batch API the jobs use - writes the chain N single appends write.

One head lock, one chain walk and one executemany per batch must not change a byte of
what ends up in the log: with the same randomness and clock, a batch and the same
events appended one by one give identical rows, and batches racing single appends on
other connections still leave one contiguous chain that verifies.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.server.audit import Action, CheckpointSigner
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.audit import (
    CHECKPOINTS,
    ENTRIES,
    HEAD,
    SECRETS,
    SUBJECT_KEYS,
    AuditEvent,
    AuditLog,
)
from medcrypt.storage.db import make_engine
from medcrypt.storage.models import load_all
from tests.support.audit import AUDIT_TABLES, NOW

COLUMNS = (ENTRIES.c.seq, ENTRIES.c.ts_us, ENTRIES.c.actor_ref, ENTRIES.c.subject_ref,
           ENTRIES.c.action, ENTRIES.c.details, ENTRIES.c.prev_hash, ENTRIES.c.entry_hash)


def _counter_rng() -> Callable[[int], bytes]:
    """Deterministic bytes: the same sequence of requests gets the same answers."""
    state = {"n": 0}

    def rng(n: int) -> bytes:
        state["n"] += 1
        return hashlib.shake_256(state["n"].to_bytes(8, "big")).digest(n)

    return rng


def _events(log: AuditLog, n: int) -> list[AuditEvent]:
    refs = [log.pseudonym("pairing", f"p{i % 7}") for i in range(n)]
    actor = log.pseudonym("admin", "a1")
    return [AuditEvent(actor, Action.EPOCH_SHREDDED if i % 2 else Action.EPOCH_RETIRED, ref,
                       {"epoch": 680 + i % 3, "reason": "grace_ended", "tokens": i})
            for i, ref in enumerate(refs)]


def _rows(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                for row in conn.execute(select(*COLUMNS).order_by(ENTRIES.c.seq))]


def _reset(engine: Engine) -> None:
    """An empty log: no entries, checkpoints, head, subject keys or pseudonym secret."""
    with engine.begin() as conn:
        for table in (ENTRIES, CHECKPOINTS, HEAD, SUBJECT_KEYS, SECRETS):
            conn.execute(delete(table))


def test_a_batch_writes_the_chain_single_appends_write(
    audit_engine: Engine, keyring: Keyring, signer: CheckpointSigner, public_keys: dict,
) -> None:
    def run(write: Callable[[AuditLog, list[AuditEvent]], None]) -> list[tuple[object, ...]]:
        _reset(audit_engine)
        log = AuditLog(audit_engine, keyring, clock=FixedClock(NOW), signer=signer,
                       rng=_counter_rng())
        events = _events(log, 40)
        # Subject keys first, identically in both runs: after this the only randomness
        # either path draws is one nonce per entry, in entry order.
        log.append_many([AuditEvent(e.actor, Action.ADMIN_COMMAND, e.subject)
                         for e in {e.subject: e for e in events}.values()])
        write(log, events)
        log.checkpoint_if_due()  # signs over the last entry: no entry of its own
        report = log.verify(public_keys)
        assert report.head_seq == 7 + 40
        return _rows(audit_engine)

    def singles(log: AuditLog, events: list[AuditEvent]) -> None:
        for e in events:
            log.append(*e)

    def batches(log: AuditLog, events: list[AuditEvent]) -> None:
        log.append_many(events[:25])
        log.append_many(events[25:])

    one_by_one = run(singles)
    batched = run(batches)
    assert len(one_by_one) == 47
    assert batched == one_by_one


def test_a_batch_in_the_callers_transaction_commits_or_vanishes_with_it(
    audit_engine: Engine, keyring: Keyring, signer: CheckpointSigner, public_keys: dict,
) -> None:
    log = AuditLog(audit_engine, keyring, clock=FixedClock(NOW), signer=signer)
    events = _events(log, 12)
    with audit_engine.connect() as conn, Session(bind=conn) as session:
        appended = log.append_many(events, session=session)
        assert (appended.first_seq, appended.last_seq) == (1, 12)
        assert appended.checkpoint is None  # appends never sign (ADR 0036)
        session.rollback()
    assert log.head().seq == 0 and _rows(audit_engine) == []
    assert log.checkpoint_open_tail() is None  # nothing to sign: the batch vanished
    with audit_engine.connect() as conn, Session(bind=conn) as session:
        log.append_many(events, session=session)
        session.commit()
    signed = log.checkpoint_if_due()
    assert signed is not None and signed.seq == 12
    assert log.verify(public_keys).head_seq == 12


def test_batches_racing_single_appends_leave_one_chain(
    database_url: str, keyring: Keyring, signer: CheckpointSigner, public_keys: dict,
) -> None:
    engines = [make_engine(database_url) for _ in range(4)]  # separate pools
    load_all().create_all(engines[0], tables=AUDIT_TABLES)
    try:
        logs = [AuditLog(e, keyring, clock=FixedClock(NOW), signer=signer,
                         checkpoint_every=50) for e in engines]
        errors: list[BaseException] = []
        start = threading.Barrier(4)

        def batcher(log: AuditLog) -> None:
            try:
                events = _events(log, 150)
                start.wait()
                for _ in range(4):
                    log.append_many(events)
                    time.sleep(0.02)  # let single appends in between the batches
            except BaseException as exc:  # reported below
                errors.append(exc)

        def single(log: AuditLog, name: str) -> None:
            try:
                ref = log.pseudonym("physician", name)
                start.wait()
                for i in range(60):
                    log.append(ref, Action.ADMIN_COMMAND, ref, {"command": "stats", "i": i})
                    time.sleep(0.002)  # messages arrive; a waiting batch gets its turn
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=batcher, args=(logs[0],))] + [
            threading.Thread(target=single, args=(logs[i], f"s{i}")) for i in (1, 2, 3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=240)
        assert errors == []
        rows = _rows(engines[0])
        seqs = [r[0] for r in rows]
        assert seqs == list(range(1, len(rows) + 1))
        actions = [r[4] for r in rows]
        assert actions.count(Action.ADMIN_COMMAND.value) == 3 * 60
        assert len(rows) - actions.count(Action.CHECKPOINT.value) == 4 * 150 + 3 * 60
        # A batch is contiguous: nobody's entry lands inside it. (Its own checkpoints
        # may: 150 entries cannot go unsigned when checkpoint_every is 50.)
        batch_actions = {Action.EPOCH_SHREDDED.value, Action.EPOCH_RETIRED.value}
        others = [a for a in actions if a != Action.CHECKPOINT.value]
        runs = [k for k, (a, b) in enumerate(itertools.pairwise(others))
                if (a in batch_actions) != (b in batch_actions)]
        assert len(runs) <= 2 * 4
        assert len(runs) >= 3, "batches and singles did not interleave; nothing was proved"
        logs[1].checkpoint_if_due()
        report = logs[1].verify(public_keys)
        assert report.head_seq == len(rows)
    finally:
        for e in engines:
            e.dispose()
