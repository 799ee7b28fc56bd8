"""Tables that seal by hand (plain LargeBinary, their own index input) can join rewrap.

For tables that store ``keyring.seal`` bytes with AAD (table, column, id) and a blind
index over ``"platform:address"`` keyed by the index column's name (the relay's first
identity table did; the storage models use sealed columns). Registered with
``raw_bytes``/``index_key``/``index_input``, such rows show up in ``key_status`` and
are moved by ``rewrap`` with their ciphertext format and lookups unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, LargeBinary, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from crypto.errors import KeyVersionMissing
from crypto.keyring import Keyring, sealed_version
from storage.encrypted import REGISTRY, EncryptedField, register
from storage.keys import key_status, rewrap, verify_keyring
from tests.storage.conftest import KEYS_V1, KEYS_V2

TABLE = "hand_sealed_identities_test"


class _Base(DeclarativeBase):
    pass


class HandSealed(_Base):
    __tablename__ = TABLE

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    address_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    address_index: Mapped[bytes] = mapped_column(LargeBinary(34), unique=True)


FIELD = EncryptedField(
    TABLE, "address_sealed", blind_index="address_index", raw_bytes=True,
    index_key="address_index", index_input=lambda row, value: f"{row.platform}:{value}",
)


@pytest.fixture
def registered(engine: Engine) -> Iterator[None]:
    _Base.metadata.create_all(engine)
    register(HandSealed, FIELD)
    try:
        yield
    finally:
        REGISTRY.pop((TABLE, "address_sealed"), None)


def _seal_by_hand(keyring: Keyring, row_id: str, platform: str, address: str) -> HandSealed:
    return HandSealed(
        id=row_id, platform=platform,
        address_sealed=keyring.seal(address.encode(), (TABLE, "address_sealed", row_id)),
        address_index=keyring.blind_index(TABLE, "address_index", f"{platform}:{address}"),
    )


def test_hand_sealed_rows_are_counted_and_rewrapped(
    registered: None, sessions: sessionmaker[Session]
) -> None:
    v1 = Keyring.from_env_value(KEYS_V1)
    with sessions.begin() as s:
        s.add(_seal_by_hand(v1, "a" * 32, "telegram", "5551234"))
        s.add(_seal_by_hand(v1, "b" * 32, "whatsapp", "+15550001234"))
    with sessions() as s:
        usage = [u for u in key_status(s) if u.table == TABLE]
        assert {(u.column, u.version, u.rows) for u in usage} == {
            ("address_sealed", 1, 2), ("address_index", 1, 2)}
    v2 = Keyring.from_env_value(KEYS_V2)
    assert rewrap(sessions, v2) >= 2
    only_v2 = Keyring.from_env_value(KEYS_V2.split(",")[0])
    with sessions() as s:
        verify_keyring(s, only_v2)
        row = s.get(HandSealed, "b" * 32)
        assert row is not None and isinstance(row.address_sealed, bytes)
        assert sealed_version(row.address_sealed) == 2
        # The table's own code still opens and finds the row, now under version 2 only.
        assert only_v2.open(row.address_sealed, (TABLE, "address_sealed", row.id)) == (
            b"+15550001234")
        wanted = only_v2.blind_index(TABLE, "address_index", "whatsapp:+15550001234")
        assert s.scalars(select(HandSealed.id).where(HandSealed.address_index == wanted)).one()


def test_rewrap_covers_the_relay_identity_directory(sessions: sessionmaker[Session]) -> None:
    """The relay's own code finds and opens its identities after rewrap + key removal."""
    from bot.messages import Platform
    from bot.relay.identities import IdentityDirectory
    from crypto.clock import FixedClock
    from tests.storage.conftest import NOW

    v1 = Keyring.from_env_value(KEYS_V1)
    with sessions.begin() as s:
        made = IdentityDirectory(v1, FixedClock(NOW)).resolve(
            s, Platform.WHATSAPP, "whatsapp:+15550004321")
    only_v2 = Keyring.from_env_value(KEYS_V2.split(",")[0])
    missing = r"platform_identities\.address: 1 row"
    with sessions() as s, pytest.raises(KeyVersionMissing, match=missing):
        verify_keyring(s, only_v2)
    assert rewrap(sessions, Keyring.from_env_value(KEYS_V2)) >= 1
    directory = IdentityDirectory(only_v2, FixedClock(NOW))
    with sessions() as s:
        verify_keyring(s, only_v2)
        assert directory.find(s, Platform.WHATSAPP, "whatsapp:+15550004321") == made.identity_id
        assert directory.address_of(s, made.identity_id) == (
            Platform.WHATSAPP, "whatsapp:+15550004321")
