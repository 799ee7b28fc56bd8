"""The audit-log tests' fixed keys and instant, and filling a log through the real append path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select, update

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
from medcrypt.storage.models.keytree import Dek, Kek
from tests.support.databases import fresh_postgres_database, postgres_template, sqlite_template

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SERVER_KEY = bytes(range(32))
SIGNING_SEED = bytes(range(1, 33))
#: The audit tables, and the key tree's: the audit log's own keys are sealed under its
#: purpose DEKs (docs/adr/0037-key-tree.md, Amendment 1).
AUDIT_TABLES = [Kek.__table__, Dek.__table__, ENTRIES, CHECKPOINTS, SUBJECT_KEYS, SECRETS,
                HEAD]

ACTIONS = [Action.RELAY_ACCEPTED, Action.RELAY_REFUSED, Action.PLAINTEXT_BLOCKED,
           Action.ADMIN_COMMAND, Action.PAIRING_ACCEPTED]


def fill(log: AuditLog, count: int, *, batch: int = 250, subjects: int = 20) -> list[str]:
    """Append ``count`` entries in batches (one transaction each); returns subject refs.

    After each batch the checkpointer's pass runs, as the bot's ``on_due`` signal and
    tick run it (appends never sign, ADR 0036): with ``checkpoint_every=500`` that is a
    checkpoint every 500 entries, so tampering tests can name the interval they expect.
    """
    refs = [log.pseudonym("patient", f"patient-{i}") for i in range(subjects)]
    actor = log.pseudonym("physician", "dr-test")
    done = 0
    while done < count:
        n = min(batch, count - done)
        log.append_many([
            AuditEvent(actor, ACTIONS[(done + i) % len(ACTIONS)], refs[(done + i) % subjects],
                       {"direction": (done + i) % 2, "size_bucket": 80 * ((done + i) % 7)})
            for i in range(n)])
        done += n
        log.checkpoint_if_due()
    return refs


def _build_filled(count: int) -> Callable[[str], None]:
    def build(url: str) -> None:
        engine = make_engine(url)
        try:
            load_all().create_all(engine, tables=AUDIT_TABLES)
            ring = Keyring({1: SERVER_KEY})
            fill(AuditLog(engine, ring, clock=FixedClock(NOW),
                          signer=CheckpointSigner(SIGNING_SEED), checkpoint_every=500), count)
            ring.wipe()
        finally:
            engine.dispose()
    return build


@contextmanager
def filled_audit_engine(backend: str, count: int, tmp_path: Path) -> Iterator[Engine]:
    """An engine on this test's own copy of a log that :func:`fill` wrote ``count``
    entries to (server key, signing seed and clock as the audit fixtures have them).

    The log is written once per worker and backend through the real append path and
    copied for each test, which then tampers with its copy alone.
    """
    build = _build_filled(count)
    if backend == "sqlite":
        url = sqlite_template(f"audit-{count}", build, tmp_path / "audit.db")
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    template = postgres_template(f"audit-{count}", build)
    with fresh_postgres_database(template) as url:
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


def _row(engine: Engine, seq: int) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(select(ENTRIES).where(ENTRIES.c.seq == seq)).mappings().one())


def _set(engine: Engine, seq: int, **values: object) -> None:
    with engine.begin() as conn:
        conn.execute(update(ENTRIES).where(ENTRIES.c.seq == seq).values(**values))


def _shift(engine: Engine, after: int, by: int) -> None:
    """Renumber entries after ``after`` by ``by`` without tripping the primary key."""
    with engine.begin() as conn:
        conn.execute(update(ENTRIES).where(ENTRIES.c.seq > after)
                     .values(seq=ENTRIES.c.seq + 1_000_000))
        conn.execute(update(ENTRIES).where(ENTRIES.c.seq > 1_000_000)
                     .values(seq=ENTRIES.c.seq - 1_000_000 + by))
