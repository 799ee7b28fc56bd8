"""Closing a shred epoch against the real providers (SoftHSM2, OpenBao, moto + the fault
stub): a new root version, a new KEK, every live DEK rewrapped, the old root version
destroyed in the provider - after which a copy of the old rows (a backup) opens under
no key the provider still holds.

``env`` is not here: its root versions are the operator's server keys, which the
process cannot destroy (tests/keytree/test_epochs.py covers it).
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from medcrypt.crypto.errors import DecryptionFailed, KeyVersionMissing, ProviderDenied
from medcrypt.crypto.server import keytree as kt
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import deks, kek_epochs
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.keytree import Dek, Kek
from medcrypt.storage.repos.identities import (
    erase_identity,
    get_or_create_identity,
    reveal_address,
)
from tests.support.databases import migrated
from tests.support.keyrigs import Rig
from tests.support.storage import KEYS_V1, NOW

LATER = NOW + timedelta(days=30)


def _ring(rig_handle: object) -> Keyring:
    ring = Keyring.from_env_value(KEYS_V1)
    ring.tree = kt.KeyTree(rig_handle, monotonic=time.monotonic)  # type: ignore[arg-type]
    return ring


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(migrated(f"sqlite:///{tmp_path / 'epochs.db'}"))
    yield session_factory(engine)  # type: ignore[misc]
    engine.dispose()


def test_closing_destroys_the_old_root_version_and_a_backup_stops_opening(
        rig: Rig, sessions: sessionmaker[Session]) -> None:
    if rig.name == "env":
        pytest.skip("env root versions are the operator's server keys: the process "
                    "cannot destroy them (tests/keytree/test_epochs.py)")
    ring = _ring(rig.bot)
    people = []
    with sessions.begin() as s:
        for i in range(5):
            ident, _ = get_or_create_identity(s, ring, "whatsapp", f"+1555987{i:04d}", now=NOW)
            people.append(ident.id)
    with sessions() as s:  # the backup: the KEK and the soon-erased person's DEK
        dek = s.scalars(select(Dek).where(Dek.person_id == people[0])).one()
        kek = s.get(Kek, dek.kek_id)
        assert kek is not None and dek.wrapped is not None and kek.root_version == 1
        backup = (kek.id, bytes(kek.wrapped), dek.id, dek.version, bytes(dek.wrapped))
    with sessions.begin() as s:
        assert erase_identity(s, people[0], now=NOW)

    admin_tree = kt.KeyTree(rig.admin, monotonic=time.monotonic)
    report = kek_epochs.close_epoch(sessions, admin_tree, rig.admin, now=LATER, batch=2)
    assert report.opened and report.rewrapped == 4 and report.retired == 1
    assert report.root_version == 2 and report.destroyed_versions == [1]
    # rotate, wrap the new KEK, unwrap the old one, list versions, destroy one: never
    # a call per DEK
    assert report.provider_calls == 5
    assert rig.admin.versions() == (2,)

    rig.refresh_bot()
    kek_id, kek_wrapped, dek_id, version, dek_wrapped = backup
    with pytest.raises(KeyVersionMissing):
        rig.bot.unwrap(kek_wrapped, kt.kek_context(kek_id))
    # every key the provider still holds: the one live KEK, which does not open the DEK
    with sessions() as s:
        live = kek_epochs.status(s, rig.name).keks
        assert [k.root_version for k in live] == [2]
        new_kek = rig.bot.unwrap(deks.kek_row(s, live[0].kek_id)[1],
                                 kt.kek_context(live[0].kek_id))
    with pytest.raises(DecryptionFailed):
        kt.unwrap_dek(new_kek, dek_wrapped, purpose="identity", person_id=people[0],
                      dek_id=dek_id, version=version, kek_id=kek_id)
    # the people who were not erased still open, through a replica that starts cold
    cold = _ring(rig.bot)
    with sessions() as s:
        for i, person in enumerate(people[1:], start=1):
            row = s.get(PlatformIdentity, person)
            assert row is not None and reveal_address(row, cold) == f"+1555987{i:04d}"


def test_the_bots_own_transit_token_cannot_close_an_epoch(
        rig: Rig, sessions: sessionmaker[Session]) -> None:
    if rig.name != "transit":
        pytest.skip("only Transit gives the bot a token that may not rotate")
    ring = _ring(rig.bot)
    with sessions.begin() as s:
        get_or_create_identity(s, ring, "whatsapp", "+15559870001", now=NOW)
    with pytest.raises(ProviderDenied):
        kek_epochs.close_epoch(sessions, deks.tree_of(ring), rig.bot, now=LATER)
    with sessions() as s:
        assert len(kek_epochs.status(s, "transit").keks) == 1
    assert rig.admin.versions() == (1,)


def test_a_replica_that_started_before_the_close_keeps_serving(
        rig: Rig, sessions: sessionmaker[Session]) -> None:
    """Another bot process opened its provider handle before the close (and never runs a
    health check again): the DEKs it reads are now under a KEK of a root version it has
    not seen, and must still open."""
    if rig.name == "env":
        pytest.skip("env closes only after the operator restarted every process with the "
                    "new server key")
    replica = _ring(rig.bot)  # its handle knows root version 1 only
    with sessions.begin() as s:
        ident, _ = get_or_create_identity(s, replica, "whatsapp", "+15559870002", now=NOW)
        person = ident.id
    kek_epochs.close_epoch(sessions, kt.KeyTree(rig.admin, monotonic=time.monotonic),
                           rig.admin, now=LATER)
    cold = _ring(rig.bot)  # same handle, nothing cached in the tree
    with sessions() as s:
        row = s.get(PlatformIdentity, person)
        assert row is not None and reveal_address(row, cold) == "+15559870002"
