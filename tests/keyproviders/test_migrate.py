"""``keys migrate --to``: a database sealed under the ``env`` provider's KEK moves to
SoftHSM2, OpenBao or KMS (moto) - KEKs re-wrapped, ids kept, no DEK or value touched -
and every person opens through the new provider only."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from medcrypt.crypto.errors import MalformedToken
from medcrypt.crypto.server import keytree as kt
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import deks
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.kek_migrate import migrate_keks
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.keytree import Dek, Kek
from medcrypt.storage.repos.identities import get_or_create_identity, reveal_address
from tests.support.databases import migrated
from tests.support.keyrigs import Rig
from tests.support.storage import KEYS_V1, NOW


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(migrated(f"sqlite:///{tmp_path / 'migrate.db'}"))
    yield session_factory(engine)  # type: ignore[misc]
    engine.dispose()


def _on(rig: Rig) -> Keyring:
    ring = Keyring.from_env_value(KEYS_V1)
    ring.tree = kt.KeyTree(rig.bot, monotonic=time.monotonic)
    return ring


def test_env_database_moves_to_the_provider(rig: Rig,
                                            sessions: sessionmaker[Session]) -> None:
    if rig.name == "env":
        pytest.skip("moving from env to env moves nothing")
    env = Keyring.from_env_value(KEYS_V1)
    people = []
    with sessions.begin() as s:
        for i in range(4):
            ident, _ = get_or_create_identity(s, env, "telegram", str(60_000_000 + i), now=NOW)
            people.append(ident.id)
    with sessions() as s:
        before = {d.id: bytes(d.wrapped or b"") for d in s.scalars(select(Dek))}
        sealed = {p.id: p.address for p in s.scalars(select(PlatformIdentity))}
    # Why the command exists: the provider refuses the env provider's KEK as foreign.
    with sessions() as s, pytest.raises(MalformedToken, match="another key provider"):
        row = s.get(PlatformIdentity, people[0])
        assert row is not None
        reveal_address(row, _on(rig))

    # a fresh process: one unwrap by env, one wrap by the provider
    report = migrate_keks(sessions, deks.tree_of(Keyring.from_env_value(KEYS_V1)), rig.bot)
    assert (report.moved, report.left, report.provider_calls) == (1, 0, 2)
    with sessions() as s:
        keks = s.scalars(select(Kek)).all()
        assert [(k.provider, k.root_version) for k in keks] == [(rig.name, 1)]
        # no DEK and no sealed value changed: only the KEK's wrapping did
        assert {d.id: bytes(d.wrapped or b"") for d in s.scalars(select(Dek))} == before
        assert {p.id: p.address for p in s.scalars(select(PlatformIdentity))} == sealed
    cold = _on(rig)
    with sessions() as s:
        for i, person in enumerate(people):
            row = s.get(PlatformIdentity, person)
            assert row is not None and reveal_address(row, cold) == str(60_000_000 + i)
    with sessions.begin() as s:  # a new person goes under the moved KEK
        ident, _ = get_or_create_identity(s, cold, "telegram", "60000099", now=NOW)
        new_dek = s.get(Dek, ident.dek_id)
        assert new_dek is not None and new_dek.kek_id == keks[0].id
    again = migrate_keks(sessions, deks.tree_of(Keyring.from_env_value(KEYS_V1)), rig.bot)
    assert (again.moved, again.left) == (0, 0)
