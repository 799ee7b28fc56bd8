"""From an old database: identities sealed under the v1 keyring format at 0020 still open
after 0021, and ``keys rewrap`` converts them to the key tree (each person's own DEK,
the foreign key set) without losing or changing a value."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import migrate
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.keys import count_stale, rewrap
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.repos.identities import find_identity, reveal_address, reveal_label
from tests.support.storage import KEYS_V1, NOW

PEOPLE = [(f"{i:032x}", f"+1555999{i:04d}", f"label {i}" if i % 2 else None)
          for i in range(1, 8)]


def _old_rows(url: str, ring: Keyring) -> None:
    """Rows exactly as 0020's code wrote them: v1 sealed values, v1 blind index."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for row_id, phone, label in PEOPLE:
                conn.execute(text(
                    "INSERT INTO platform_identities (id, platform, address, address_bidx, "
                    "label, role, created_at) VALUES (:id, 'whatsapp', :a, :b, :l, "
                    "'patient', :t)"), {
                    "id": row_id,
                    "a": ring.seal(phone.encode(), ("platform_identities", "address", row_id)),
                    "b": ring.blind_index("platform_identities", "address", phone),
                    "l": None if label is None else ring.seal(
                        label.encode(), ("platform_identities", "label", row_id)),
                    "t": NOW})
    finally:
        engine.dispose()


@pytest.mark.parametrize("batch", [2, 500])
def test_an_old_database_upgrades_and_converts(database_url: str, batch: int) -> None:
    ring = Keyring.from_env_value(KEYS_V1)
    migrate.upgrade(database_url, "0020_identity_language")
    _old_rows(database_url, ring)
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    try:
        with sessions() as s:  # before conversion the v1 values still open
            for row_id, phone, label in PEOPLE:
                row = s.get(PlatformIdentity, row_id)
                assert row is not None and row.dek_id is None
                assert reveal_address(row, ring) == phone
                assert reveal_label(row, ring) == label
            assert count_stale(s, ring)[("platform_identities", "address")] == len(PEOPLE)
        assert rewrap(sessions, ring, batch_size=batch) == len(PEOPLE) + sum(
            1 for p in PEOPLE if p[2] is not None)
        assert rewrap(sessions, ring) == 0  # resumable, and a finished run is a no-op
        fresh = Keyring.from_env_value(KEYS_V1)  # another replica: nothing cached
        with sessions() as s:
            assert sum(count_stale(s, ring).values()) == 0
            deks = s.execute(text("SELECT person_id, version FROM deks "
                                  "WHERE purpose <> 'blind-index'")).all()
            assert sorted(d[0] for d in deks) == sorted(p[0] for p in PEOPLE)
            for row_id, phone, label in PEOPLE:
                row = s.get(PlatformIdentity, row_id)
                assert row is not None and row.address is not None
                assert row.address.dek is not None and row.dek_version == 1
                assert row.address.dek.dek_id == row.dek_id
                if label is not None:
                    assert row.label is not None and row.label.dek == row.address.dek
                assert reveal_address(row, fresh) == phone
                assert reveal_label(row, fresh) == label
                found = find_identity(s, fresh, "whatsapp", phone)
                assert found is not None and found.id == row_id
        with pytest.raises(RuntimeError, match="would strand them"):
            migrate.downgrade(database_url, "0020_identity_language")
    finally:
        engine.dispose()
