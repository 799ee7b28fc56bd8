"""The writer keeps the coverage promises, and refuses to sign over a rewound log.

Whatever mix of engine and session appends, batch sizes, quiet stretches and ticks a
clinic produces, a log written by :class:`AuditLog` with a signing key verifies under
its own policy - the verifier's rules are exactly the writer's promises. And a writer
that has seen a checkpoint which the head row no longer names (history cut and the
head fixed while it ran) signs nothing from then on.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select, update
from structlog.testing import capture_logs

from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.errors import AuditChainBroken, StorageError
from medcrypt.crypto.server.audit import (
    SYSTEM_BOT,
    Action,
    CheckpointSigner,
    format_witness,
    parse_witness_lines,
)
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.audit import CHECKPOINTS, ENTRIES, HEAD, AuditEvent, AuditLog
from medcrypt.storage.db import session_factory
from tests.support.audit import NOW

EVERY = 4
INTERVAL = timedelta(minutes=60)

#: One step of a clinic's day: minutes to wait, then an append (engine or session,
#: committed or rolled back, of n events) or the maintenance tick.
Step = tuple[int, str, int]
STEPS = st.lists(st.tuples(st.sampled_from([0, 0, 1, 30, 59, 61, 200]),
                           st.sampled_from(["engine", "session", "rollback", "tick"]),
                           st.integers(1, 11)), min_size=1, max_size=25)


def _reset(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in (ENTRIES, CHECKPOINTS, HEAD):
            conn.execute(delete(table))


def _writer(engine: Engine, keyring: Keyring, signer: CheckpointSigner,
            clock: FixedClock) -> AuditLog:
    return AuditLog(engine, keyring, clock=clock, signer=signer, checkpoint_every=EVERY,
                    checkpoint_interval=INTERVAL)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_any_day_the_writer_writes_verifies_under_its_policy(
    steps: list[Step], audit_engine: Engine, keyring: Keyring, signer: CheckpointSigner,
    public_keys: dict,
) -> None:
    _reset(audit_engine)
    clock = FixedClock(NOW)
    log = _writer(audit_engine, keyring, signer, clock)
    sessions = session_factory(audit_engine)
    events = [AuditEvent(SYSTEM_BOT, Action.CONFIG_CHANGED, SYSTEM_BOT, {"n": i})
              for i in range(11)]
    for wait, kind, n in steps:
        clock.set(clock.now() + timedelta(minutes=wait))
        if kind == "engine":
            log.append_many(events[:n])
        elif kind == "tick":
            log.checkpoint_if_due()
        else:
            with sessions() as session:
                log.append_many(events[:n], session=session)
                if kind == "session":
                    session.commit()
                else:
                    session.rollback()
    # A running bot's maintenance tick (every few minutes) has run since the last step: a
    # day that ends on a rolled-back write after a long quiet spell leaves the tail open,
    # which only the tick signs (found by Hypothesis: 11 appends, then 200 minutes and a
    # rollback). Gaps inside the history are the writer's to prevent and stay checked.
    log.checkpoint_if_due()
    report = log.verify(public_keys)  # raises AuditChainBroken on any coverage gap
    assert report.coverage_checked and not log.rewound
    with audit_engine.connect() as conn:
        seqs = list(conn.scalars(select(CHECKPOINTS.c.seq).order_by(CHECKPOINTS.c.seq)))
    assert all(b - a - 1 <= EVERY for a, b in zip([0, *seqs], seqs, strict=False))


def _rewind(engine: Engine, to_checkpoint: int) -> None:
    """The attacker: cut everything after a checkpoint, point the head back at it."""
    with engine.begin() as conn:
        cp = conn.execute(select(CHECKPOINTS.c.ts_us, CHECKPOINTS.c.sig,
                                 CHECKPOINTS.c.head_hash)
                          .where(CHECKPOINTS.c.seq == to_checkpoint)).one()
        conn.execute(delete(ENTRIES).where(ENTRIES.c.seq > to_checkpoint))
        conn.execute(delete(CHECKPOINTS).where(CHECKPOINTS.c.seq > to_checkpoint))
        conn.execute(update(HEAD).values(seq=to_checkpoint, entry_hash=cp.head_hash,
                                         checkpoint_seq=to_checkpoint,
                                         checkpoint_ts_us=cp.ts_us, checkpoint_sig=cp.sig))


def test_a_writer_that_finds_the_head_rewound_signs_nothing_more(
    audit_engine: Engine, keyring: Keyring, signer: CheckpointSigner, public_keys: dict,
) -> None:
    clock = FixedClock(NOW)
    log = _writer(audit_engine, keyring, signer, clock)
    first = log.checkpoint_now()
    clock.set(NOW + timedelta(minutes=5))
    log.append(SYSTEM_BOT, Action.BREAKGLASS_APPROVED, SYSTEM_BOT)
    second = log.checkpoint_now()
    _rewind(audit_engine, first.seq)

    clock.set(NOW + timedelta(minutes=90))  # every append now would sign by time
    with capture_logs() as logs:
        appended = log.append(SYSTEM_BOT, Action.CONFIG_CHANGED, SYSTEM_BOT, {"n": 1})
        assert log.checkpoint_if_due() is None and log.checkpoint_open_tail() is None
    assert appended.checkpoint is None and log.rewound
    assert [e["event"] for e in logs] == ["audit_log_rewound"]
    assert logs[0]["seen_checkpoint_seq"] == second.seq
    assert logs[0]["head_checkpoint_seq"] == first.seq
    with pytest.raises(StorageError, match="rewound"):
        log.checkpoint_now()
    assert log.head().last_checkpoint == first
    # What it appended since stays unsigned: verification fails there, at the cut.
    with pytest.raises(AuditChainBroken, match=f"broken at seq {first.seq + 1}"):
        log.verify(public_keys)


def test_a_rewind_re_signed_past_what_the_writer_saw_is_still_a_rewind(
    audit_engine: Engine, keyring: Keyring, signer: CheckpointSigner, public_keys: dict,
) -> None:
    """The attacker cuts back to an old checkpoint, then has a second writer (the bot's
    own key, through the provider) sign a new history *past* the checkpoint this writer
    saw: the head now names a later checkpoint, but one that does not chain back to the
    one seen. That is a rewind, not a concurrent advance; the writer signs nothing."""
    clock = FixedClock(NOW)
    log = _writer(audit_engine, keyring, signer, clock)
    first = log.checkpoint_now()
    log.append_many([AuditEvent(SYSTEM_BOT, Action.BREAKGLASS_APPROVED, SYSTEM_BOT)] * 3)
    second = log.checkpoint_now()
    _rewind(audit_engine, first.seq)
    forger = _writer(audit_engine, keyring, signer, clock)
    forger.append_many([AuditEvent(SYSTEM_BOT, Action.CONFIG_CHANGED, SYSTEM_BOT)] * 10)
    forged = forger.checkpoint_now()
    assert forged.seq > second.seq and not forger.rewound

    clock.set(NOW + timedelta(minutes=90))
    with capture_logs() as logs:
        log.append(SYSTEM_BOT, Action.CONFIG_CHANGED, SYSTEM_BOT, {"n": 1})
        assert log.checkpoint_if_due() is None
    assert log.rewound
    assert [e["event"] for e in logs] == ["audit_log_rewound"]
    assert (logs[0]["seen_checkpoint_seq"], logs[0]["head_checkpoint_seq"]) == (
        second.seq, forged.seq)
    with pytest.raises(StorageError, match="rewound"):
        log.checkpoint_now()
    assert log.head().last_checkpoint == forged


def test_a_later_checkpoint_with_a_bad_signature_is_not_an_advance(
    audit_engine: Engine, keyring: Keyring, signer: CheckpointSigner,
) -> None:
    """A database writer without the key extends the checkpoint chain with a row that
    links to the one seen but whose signature does not verify: refused, not signed on."""
    log = _writer(audit_engine, keyring, signer, FixedClock(NOW))
    seen = log.checkpoint_now()
    log.append(SYSTEM_BOT, Action.CONFIG_CHANGED, SYSTEM_BOT)
    with audit_engine.begin() as conn:
        head = conn.execute(select(HEAD.c.seq, HEAD.c.entry_hash)).one()
        fake = bytes(64)
        conn.execute(CHECKPOINTS.insert().values(
            seq=head.seq, ts_us=seen.ts_us, head_hash=head.entry_hash, key_id=signer.key_id,
            prev_sig=seen.sig, sig=fake))
        conn.execute(update(HEAD).values(checkpoint_seq=head.seq, checkpoint_sig=fake))
    log.append(SYSTEM_BOT, Action.CONFIG_CHANGED, SYSTEM_BOT)
    assert log.rewound
    with pytest.raises(StorageError, match="rewound"):
        log.checkpoint_now()


def test_a_fresh_process_does_not_know_and_signs_it_is_the_witness_that_tells(
    audit_engine: Engine, keyring: Keyring, signer: CheckpointSigner, public_keys: dict,
) -> None:
    """The limit, written down: memory is per process. A writer started after the cut
    (a restart) signs on top of it; only witness lines posted earlier disagree."""
    clock = FixedClock(NOW)
    log = _writer(audit_engine, keyring, signer, clock)
    first = log.checkpoint_now()
    log.append(SYSTEM_BOT, Action.BREAKGLASS_APPROVED, SYSTEM_BOT)
    second = log.checkpoint_now()
    _rewind(audit_engine, first.seq)
    restarted = _writer(audit_engine, keyring, signer, clock)
    clock.set(NOW + timedelta(minutes=90))
    restarted.append(SYSTEM_BOT, Action.BOT_STARTED, SYSTEM_BOT)
    assert restarted.checkpoint_if_due() is not None
    assert restarted.verify(public_keys).witnessed_seq == 0
    with pytest.raises(AuditChainBroken, match="witness"):
        restarted.verify(public_keys, witnesses=parse_witness_lines(format_witness(second)))
