"""The key tree in the database: per-person DEKs, the row check on every seal and open,
rotation without the provider, and erasure that destroys the DEK.

The attack test comes first: a replica that still holds a person's DEK in memory must not
open (or write) their values once another replica destroyed that DEK.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from medcrypt.crypto.errors import DecryptionFailed, DekDestroyed
from medcrypt.crypto.server import keytree as kt
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import deks
from medcrypt.storage.encrypted import Sealed
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.keytree import Dek, Kek
from medcrypt.storage.repos.identities import (
    erase_identity,
    find_identity,
    find_live,
    get_or_create_identity,
    reveal_address,
    reveal_label,
    rotate_dek,
    set_label,
)
from tests.support.storage import KEYS_V1, NOW

PHONE = "+15551230001"


def _replica() -> Keyring:
    """One bot process: its own keyring object and so its own tree and caches."""
    return Keyring.from_env_value(KEYS_V1)


def _person(sessions: sessionmaker[Session], ring: Keyring, phone: str = PHONE) -> str:
    with sessions.begin() as s:
        ident, created = get_or_create_identity(s, ring, "whatsapp", phone, now=NOW)
        assert created
        set_label(ident, ring, "Sam")
        return ident.id


def test_a_replica_with_the_dek_cached_cannot_use_a_destroyed_one(
        sessions: sessionmaker[Session]) -> None:
    a, b = _replica(), _replica()
    person = _person(sessions, b)
    with sessions() as s:  # replica A opens the address: the DEK is now in its cache
        row = s.get(PlatformIdentity, person)
        assert row is not None and reveal_address(row, a) == PHONE
        stolen = row.address
        dek_id, version = row.dek_id, row.dek_version
    assert stolen is not None and dek_id is not None and version is not None
    tree_a = deks.tree_of(a)
    assert tree_a.cached_dek(dek_id, version)
    with sessions.begin() as s:  # replica B erases the person
        assert erase_identity(s, person, now=NOW)
    # The attack: the sealed value comes back (a restored backup, a stale row) while A
    # still holds the key. With the cache alone it opens - this is what the check stops.
    assert tree_a.cached_dek(dek_id, version)
    cached = tree_a._deks[(dek_id, version)].key
    assert kt.open_value(cached, stolen.data, table="platform_identities",
                         column="address", row_id=person) == PHONE.encode()
    with sessions.begin() as s:
        s.execute(update(PlatformIdentity).where(PlatformIdentity.id == person)
                  .values(address=stolen, deleted_at=None))
    with sessions() as s:
        row = s.get(PlatformIdentity, person)
        assert row is not None
        with pytest.raises(DekDestroyed):
            reveal_address(row, a)
        with pytest.raises(DekDestroyed):
            set_label(row, a, "new label")
    assert not tree_a.cached_dek(dek_id, version)  # and A dropped (zeroed) its copy
    assert cached == bytearray(32)


def test_each_person_gets_a_dek_wrapped_under_one_kek(
        sessions: sessionmaker[Session]) -> None:
    ring = _replica()
    ids = [_person(sessions, ring, f"+1555123{i:04d}") for i in range(3)]
    with sessions() as s:
        keks = s.scalars(select(Kek)).all()
        assert len(keks) == 1 and keks[0].provider == "env" and keks[0].root_version == 1
        rows = s.scalars(select(Dek).where(Dek.purpose != "blind-index")
                         .order_by(Dek.person_id)).all()
        assert sorted(r.person_id or "" for r in rows) == sorted(ids)
        assert {r.kek_id for r in rows} == {keks[0].id}
        assert all(r.version == 1 and r.purpose == "identity" for r in rows)
        for person in ids:
            ident = s.get(PlatformIdentity, person)
            assert ident is not None and ident.address is not None
            assert ident.address.dek == kt.DekRef(str(ident.dek_id), 1)
            assert reveal_label(ident, ring) == "Sam"
    assert deks.tree_of(ring).provider_calls == 1  # the KEK's wrap; no call per person


def test_a_wrapped_dek_swapped_to_another_person_does_not_open(
        sessions: sessionmaker[Session]) -> None:
    ring = _replica()
    first, second = (_person(sessions, ring, p) for p in ("+15550000001", "+15550000002"))
    with sessions.begin() as s:
        one, two = (s.scalars(select(Dek).where(Dek.person_id == p)).one()
                    for p in (first, second))
        one.wrapped = two.wrapped
    with sessions() as s:
        row = s.get(PlatformIdentity, first)
        assert row is not None
        with pytest.raises(DecryptionFailed):
            reveal_address(row, _replica())  # a fresh replica: nothing cached


def test_a_value_copied_from_another_persons_row_does_not_open(
        sessions: sessionmaker[Session]) -> None:
    ring = _replica()
    first, second = (_person(sessions, ring, p) for p in ("+15550000001", "+15550000002"))
    with sessions.begin() as s:
        theirs = s.get(PlatformIdentity, second)
        assert theirs is not None
        s.execute(update(PlatformIdentity).where(PlatformIdentity.id == first)
                  .values(address=theirs.address))
    with sessions() as s:
        row = s.get(PlatformIdentity, first)
        assert row is not None
        with pytest.raises(DecryptionFailed):
            reveal_address(row, ring)


def test_the_dek_foreign_key_is_enforced(sessions: sessionmaker[Session]) -> None:
    person = _person(sessions, _replica())
    with pytest.raises(Exception, match=r"(?i)foreign key"), sessions.begin() as s:
        s.execute(update(PlatformIdentity).where(PlatformIdentity.id == person)
                  .values(dek_id="00" * 16))
    del person


def test_rotating_a_persons_dek_needs_no_provider_and_destroys_the_old_one(
        sessions: sessionmaker[Session]) -> None:
    ring = _replica()
    person = _person(sessions, ring)
    tree = deks.tree_of(ring)
    calls = tree.provider_calls
    with sessions.begin() as s:
        old = s.get(PlatformIdentity, person)
        assert old is not None
        old_dek = old.dek_id
        assert rotate_dek(s, ring, person, now=NOW + timedelta(days=1))
    assert tree.provider_calls == calls
    with sessions() as s:
        row = s.get(PlatformIdentity, person)
        assert row is not None and row.dek_version == 2 and row.dek_id != old_dek
        assert reveal_address(row, _replica()) == PHONE
        assert reveal_label(row, ring) == "Sam"
        gone = s.get(Dek, old_dek)
        assert gone is not None and gone.wrapped is None and gone.destroyed_at is not None


def test_erasure_destroys_the_dek_and_the_lookup_fails(
        sessions: sessionmaker[Session]) -> None:
    ring = _replica()
    person = _person(sessions, ring)
    with sessions.begin() as s:
        assert erase_identity(s, person, now=NOW)
        # In the same transaction: the DEK is already gone.
        assert s.scalars(select(Dek.wrapped).where(Dek.person_id == person)).one() is None
    with sessions() as s:
        assert find_identity(s, ring, "whatsapp", PHONE) is None
        assert find_live(s, ring, "whatsapp", PHONE) is None
        row = s.get(PlatformIdentity, person)
        assert row is not None and row.address is None and row.address_bidx is None
    with sessions.begin() as s:  # the same number writing again is a new person
        again, created = get_or_create_identity(s, ring, "whatsapp", PHONE, now=NOW)
        assert created and again.id != person and again.dek_id is not None


def test_no_plaintext_phone_in_the_deks_or_keks_tables(
        sessions: sessionmaker[Session]) -> None:
    _person(sessions, _replica())
    with sessions() as s:
        for table in ("deks", "keks", "platform_identities"):
            for row in s.execute(text(f"SELECT * FROM {table}")):
                for value in row:
                    raw = value if isinstance(value, bytes) else str(value).encode()
                    assert PHONE.encode() not in raw and b"5551230001" not in raw


def test_sealed_column_type_accepts_tree_values() -> None:
    sealed = kt.seal_value(bytearray(os.urandom(32)), kt.DekRef("aa" * 16, 1), b"x",
                           table="t", column="c", row_id="r")
    assert Sealed(sealed).version == 0
