"""The checkpointer off the append path (ADR 0036): appends never sign, two racing
checkpointers never both commit, and witness lines go to the outbox with their
checkpoint's transaction."""

from __future__ import annotations

import base64
import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from medcrypt.bot.app.wiring import build_services
from medcrypt.bot.domain.config import parse_settings
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.server.audit import SYSTEM_BOT, Action, CheckpointSigner
from medcrypt.crypto.server.env_provider import EnvProvider
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.audit import AuditLog
from medcrypt.storage.db import make_engine
from medcrypt.storage.models.outbox import OutboxMessage
from tests.support.audit import NOW, SERVER_KEY, SIGNING_SEED
from tests.support.databases import migrated


class CountingProvider:
    """The real env provider, counting what the audit log asks of it."""

    def __init__(self) -> None:
        self.inner = EnvProvider({1: SERVER_KEY}, SIGNING_SEED)
        self.signs = 0
        self.before_sign: list[threading.Event] = []  # set by sign, then waited on
        self.release: threading.Event | None = None

    def public_key(self) -> bytes:
        return self.inner.public_key()

    def sign(self, message: bytes) -> bytes:
        self.signs += 1
        if self.release is not None:
            for started in self.before_sign:
                started.set()
            assert self.release.wait(30), "the test never let the signer go"
            self.release = None
        return self.inner.sign(message)


def test_appends_make_no_provider_call_and_the_checkpointer_signs_in_steps(
    audit_engine: Engine, keyring: Keyring, public_keys: dict,
) -> None:
    provider = CountingProvider()
    log = AuditLog(audit_engine, keyring, clock=FixedClock(NOW), checkpoint_every=5,
                   signer=CheckpointSigner.in_provider(provider))
    for i in range(23):
        assert log.append(SYSTEM_BOT, Action.CONFIG_CHANGED, SYSTEM_BOT, {"n": i}).checkpoint \
            is None
    assert provider.signs == 0  # 23 appends, four of them past the N mark: no signature
    log.checkpoint_if_due()
    # Caught up N at a time; the last three wait (under N, inside the interval).
    assert [c.seq for c in log.checkpoints()] == [5, 10, 15, 20]
    assert provider.signs == 4
    assert log.verify(public_keys).unsigned_tail == 3


def _race(audit_engine: Engine, keyring: Keyring) -> tuple[AuditLog, list[object]]:
    """Checkpointer A reads the head (seq 3) and is signing while checkpointer B (a
    replica whose lease A's pause let it take) signs seq 4 after one more append and
    commits. Then A's commit arrives, signed over the checkpoint B replaced."""
    clock = FixedClock(NOW)
    slow, fast = CountingProvider(), CountingProvider()
    a = AuditLog(audit_engine, keyring, clock=clock, signer=CheckpointSigner.in_provider(slow))
    b = AuditLog(audit_engine, keyring, clock=clock, signer=CheckpointSigner.in_provider(fast))
    for _ in range(3):
        a.append(SYSTEM_BOT, Action.CONFIG_CHANGED, SYSTEM_BOT, {})
    signing = threading.Event()
    slow.before_sign.append(signing)
    slow.release = threading.Event()
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(_try(a.checkpoint_now)))
    thread.start()
    assert signing.wait(30)
    b.append(SYSTEM_BOT, Action.CONFIG_CHANGED, SYSTEM_BOT, {})
    won = b.checkpoint_now()
    assert won.seq == 4
    slow.release.set()
    thread.join(30)
    return b, outcome


def _try(fn):  # type: ignore[no-untyped-def]
    try:
        return fn()
    except Exception as exc:
        return exc


def test_two_racing_checkpointers_never_both_commit(
    audit_engine: Engine, keyring: Keyring, public_keys: dict,
) -> None:
    log, outcome = _race(audit_engine, keyring)
    cps = log.checkpoints()
    # A's signature over seq 3 was thrown away; B's checkpoint stands alone.
    assert [c.seq for c in cps] == [4], cps
    assert len({c.prev_sig for c in cps}) == len(cps)
    assert getattr(outcome[0], "seq", None) == 4  # A saw its work done by B
    report = log.verify(public_keys)
    assert (report.checkpoints, report.last_checkpoint_seq) == (1, 4)


def test_a_provider_that_is_down_delays_the_checkpoint_and_never_an_append(
    audit_engine: Engine, keyring: Keyring, public_keys: dict,
) -> None:
    class Down(CountingProvider):
        up = False

        def sign(self, message: bytes) -> bytes:
            if not self.up:
                from medcrypt.crypto.errors import ProviderDown
                raise ProviderDown("the checkpoint key's service is unreachable")
            return super().sign(message)

    provider = Down()
    provider.up = True
    clock = FixedClock(NOW)
    log = AuditLog(audit_engine, keyring, clock=clock, checkpoint_every=4,
                   checkpoint_interval=timedelta(hours=1),
                   signer=CheckpointSigner.in_provider(provider))
    assert log.checkpoint_now().seq == 1  # the bot's start: a first checkpoint entry
    provider.up = False
    for _ in range(10):
        log.append(SYSTEM_BOT, Action.CONFIG_CHANGED, SYSTEM_BOT, {})
    from medcrypt.crypto.errors import AuditChainBroken, ProviderDown
    with pytest.raises(ProviderDown):
        log.checkpoint_if_due()
    assert log.verify(public_keys).unsigned_tail == 10  # a tail waiting, bounded: not a failure
    clock.set(NOW + timedelta(hours=2))
    with pytest.raises(AuditChainBroken, match="checkpointer cannot reach the key provider"):
        log.verify(public_keys)  # a long unsigned tail is reported
    provider.up = True
    log.checkpoint_if_due()
    assert [c.seq for c in log.checkpoints()] == [1, 5, 9]  # caught up, N at a time
    assert log.verify(public_keys).unsigned_tail == 2  # under N, inside the interval


def test_witness_lines_are_in_the_outbox_when_the_checkpoint_commits(
    database_url: str,
) -> None:
    """A crash right after the commit (nothing in memory survives it) loses no line:
    they are outbox rows written in the checkpoint's transaction."""
    engine = make_engine(migrated(database_url))
    env = {"MEDCRYPT_AUDIT_SIGNING_KEY": base64.b64encode(SIGNING_SEED).decode()}
    settings = parse_settings({"clinic": {"admin_telegram_ids": [111, 222]},
                               "audit": {"checkpoint_every_entries": 3}})
    keyring = Keyring({1: SERVER_KEY})
    try:
        services = build_services(settings, FixedClock(NOW), engine=engine,
                                  keyring=keyring, environ=env)
        for _ in range(3):
            services.audit.append(SYSTEM_BOT, Action.CONFIG_CHANGED, SYSTEM_BOT, {})
        assert _witness_rows(engine) == 0  # appends queue nothing: they never sign
        cp = services.audit.checkpoint_if_due()
        assert cp is not None
        del services  # the "crash": the process's memory is gone
        assert _witness_rows(engine) == 2  # one line per admin, already durable
    finally:
        engine.dispose()


def _witness_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(OutboxMessage)).scalar_one())

