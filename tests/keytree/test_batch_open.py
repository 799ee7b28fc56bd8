"""Opening a claim batch's addresses reads their DEKs with one statement (ADR 0043), and
keeps every check the single open makes: in the caller's transaction, a destroyed DEK
refused even when this replica still caches it, a value copied from another row
refused, and on PostgreSQL the DEK rows share-locked so a concurrent destroy waits.

The outbox worker opens the recipients' addresses of every claim; before, each address
cost its own DEK statement - one round trip per message, most of the drain's wall time
per row on a loaded PostgreSQL host.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from medcrypt.crypto.errors import DecryptionFailed, DekDestroyed
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import deks
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.keytree import Dek
from medcrypt.storage.repos.identities import (
    erase_identity,
    get_or_create_identity,
    live_addresses,
    reveal_address,
)
from tests.support.storage import KEYS_V1, NOW, legacy_identity

PHONES = [f"+1555123{i:04d}" for i in range(6)]


def _replica() -> Keyring:
    """One bot process: its own keyring object, so its own tree and DEK cache."""
    return Keyring.from_env_value(KEYS_V1)


def _people(sessions: sessionmaker[Session], ring: Keyring) -> list[str]:
    with sessions.begin() as s:
        return [get_or_create_identity(s, ring, "whatsapp", p, now=NOW)[0].id
                for p in PHONES]


def _dek_statements(engine: Engine) -> list[str]:
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM deks" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    return seen


def test_a_batch_opens_every_address_with_one_dek_statement(
        engine: Engine, sessions: sessionmaker[Session]) -> None:
    ring = _replica()
    people = _people(sessions, ring)
    with sessions.begin() as s:  # a value sealed before the key tree still opens
        old = legacy_identity(s, ring, "telegram", "4242")
    reader = _replica()  # nothing cached: every DEK is read and unwrapped
    seen = _dek_statements(engine)
    with sessions.begin() as s:
        found = live_addresses(s, reader, [*people, old, "00" * 16])
    assert len(seen) == 1
    assert found == {**{p: ("whatsapp", phone) for p, phone in zip(people, PHONES,
                                                                    strict=True)},
                     old: ("telegram", "4242")}
    with sessions() as s:  # the same answers as one open at a time
        for person, phone in zip(people, PHONES, strict=True):
            row = s.get(PlatformIdentity, person)
            assert row is not None and reveal_address(row, _replica()) == phone


def test_a_batch_refuses_a_dek_destroyed_by_another_replica_while_cached(
        sessions: sessionmaker[Session]) -> None:
    a, b = _replica(), _replica()
    people = _people(sessions, b)
    with sessions.begin() as s:  # replica A opens the batch: every DEK is in its cache
        assert len(live_addresses(s, a, people)) == len(people)
        victim = s.get(PlatformIdentity, people[2])
        assert victim is not None and victim.address is not None
        stolen, dek_id, version = victim.address, str(victim.dek_id), victim.dek_version
    tree_a = deks.tree_of(a)
    assert version is not None and tree_a.cached_dek(dek_id, version)
    cached = tree_a._deks[(dek_id, version)].key
    with sessions.begin() as s:  # replica B erases one person; the value comes back
        assert erase_identity(s, people[2], now=NOW)
    with sessions.begin() as s:
        s.execute(update(PlatformIdentity).where(PlatformIdentity.id == people[2])
                  .values(address=stolen, deleted_at=None))
    with sessions.begin() as s, pytest.raises(DekDestroyed):
        live_addresses(s, a, people)
    assert not tree_a.cached_dek(dek_id, version)  # dropped, and zeroed
    assert cached == bytearray(32)


def test_a_batch_refuses_a_value_copied_from_another_persons_row(
        sessions: sessionmaker[Session]) -> None:
    ring = _replica()
    people = _people(sessions, ring)
    with sessions.begin() as s:
        theirs = s.get(PlatformIdentity, people[1])
        assert theirs is not None
        s.execute(update(PlatformIdentity).where(PlatformIdentity.id == people[0])
                  .values(address=theirs.address))
    with sessions.begin() as s, pytest.raises(DecryptionFailed):
        live_addresses(s, ring, people)


@pytest.mark.parametrize("migrated_database_url", ["postgres"], indirect=True)
def test_a_destroy_waits_for_the_transaction_that_opened_the_batch(
        engine: Engine, sessions: sessionmaker[Session]) -> None:
    ring = _replica()
    people = _people(sessions, ring)
    opened, release = threading.Event(), threading.Event()

    def claim() -> None:  # an outbox claim: opens the batch, then is slow to commit
        with sessions.begin() as s:
            live_addresses(s, ring, people)
            opened.set()
            release.wait(10)

    worker = threading.Thread(target=claim)
    worker.start()
    try:
        assert opened.wait(10)
        with sessions.begin() as s:
            dek_id = s.scalars(select(Dek.id).where(Dek.person_id == people[3])).one()
        with pytest.raises(OperationalError, match="lock"), sessions.begin() as s:
            s.execute(text("SET LOCAL lock_timeout = '300ms'"))
            s.execute(update(Dek).where(Dek.id == dek_id).values(wrapped=None))
    finally:
        release.set()
        worker.join(10)
    with sessions.begin() as s:  # once the batch's transaction ended, it goes through
        assert erase_identity(s, people[3], now=NOW)
