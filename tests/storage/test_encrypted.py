"""Encrypted columns at rest: no clear values on disk, values cannot be moved, rotation.

These are the issue's "must show" items and run on SQLite and PostgreSQL; the raw-byte
scans need a file and therefore run on SQLite.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from medcrypt.crypto.errors import DecryptionFailed, KeyVersionMissing, StorageError
from medcrypt.crypto.server import blind_index as bi
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import migrate
from medcrypt.storage.db import make_engine, session_factory, sqlite_checkpoint_truncate
from medcrypt.storage.encrypted import Sealed, new_id
from medcrypt.storage.keys import count_stale, key_status, rewrap, verify_keyring
from medcrypt.storage.models.admins import AdminPerson, ClinicAdmin
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.repos.identities import (
    erase_identity,
    find_identity,
    get_or_create_identity,
    reveal_address,
    reveal_label,
    set_label,
)
from medcrypt.storage.smoke import clear_forms, raw_database_bytes
from tests.support.storage import KEYS_V1, KEYS_V2, NOW

PHONES = ["+491512345678", "+14155550123", "+447700900123"]
CHAT_IDS = ["123456789012", "-1001987654321"]
LABEL = "Dr. Hannelore Example"


def _store_people(sessions: sessionmaker[Session], keyring: Keyring) -> list[str]:
    ids = []
    with sessions.begin() as s:
        for phone in PHONES:
            ident, created = get_or_create_identity(
                s, keyring, "whatsapp", f"whatsapp:{phone}", now=NOW, role="patient")
            assert created
            set_label(ident, keyring, LABEL)
            ids.append(ident.id)
        for chat in CHAT_IDS:
            ident, _ = get_or_create_identity(s, keyring, "telegram", chat, now=NOW)
            ids.append(ident.id)
    return ids


def test_sqlite_file_and_wal_hold_no_clear_phone_or_chat_id(
    sqlite_url: str, keyring: Keyring
) -> None:
    migrate.upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        _store_people(session_factory(engine), keyring)
        db_path = Path(sqlite_url.removeprefix("sqlite:///"))
        assert Path(f"{db_path}-wal").stat().st_size > 0  # the data really is in the WAL
        for snapshot in (raw_database_bytes(db_path), None):
            if snapshot is None:
                sqlite_checkpoint_truncate(engine)
                snapshot = raw_database_bytes(db_path)
            for phone in PHONES:
                for form in clear_forms(phone):
                    assert form not in snapshot
            for chat in CHAT_IDS:
                assert chat.encode() not in snapshot
                assert chat.lstrip("-").encode() not in snapshot
            assert LABEL.encode() not in snapshot
    finally:
        engine.dispose()


def test_lookup_by_blind_index_and_reveal(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    _store_people(sessions, keyring)
    with sessions() as s:
        found = find_identity(s, keyring, "whatsapp", "0049 151 2345-678")
        assert found is not None
        assert reveal_address(found, keyring) == "+491512345678"
        assert reveal_label(found, keyring) == LABEL
        assert find_identity(s, keyring, "telegram", "491512345678") is None
        tg = find_identity(s, keyring, "telegram", -1001987654321)
        assert tg is not None and reveal_address(tg, keyring) == "-1001987654321"
        assert reveal_label(tg, keyring) is None


def test_same_address_twice_is_one_identity(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    with sessions.begin() as s:
        a, created_a = get_or_create_identity(s, keyring, "telegram", "42424242", now=NOW)
        b, created_b = get_or_create_identity(s, keyring, "telegram", 42424242, now=NOW)
        assert created_a and not created_b and a.id == b.id
        # Same digits on another platform are another person.
        _c, created_c = get_or_create_identity(s, keyring, "whatsapp", "+42424242", now=NOW)
        assert created_c


def _raw(sessions: sessionmaker[Session], column: str, row_id: str) -> bytes:
    with sessions() as s:
        value = s.execute(
            text(f"SELECT {column} FROM platform_identities WHERE id = :id"), {"id": row_id}
        ).scalar_one()
        return bytes(value)


def _put_raw(sessions: sessionmaker[Session], column: str, row_id: str, value: bytes) -> None:
    with sessions.begin() as s:
        s.execute(
            text(f"UPDATE platform_identities SET {column} = :v WHERE id = :id"),
            {"v": value, "id": row_id},
        )


def test_value_copied_to_another_row_fails(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    a, b, *_ = _store_people(sessions, keyring)
    _put_raw(sessions, "address", b, _raw(sessions, "address", a))
    with sessions() as s:
        victim = s.get(PlatformIdentity, b)
        assert victim is not None
        with pytest.raises(DecryptionFailed):
            reveal_address(victim, keyring)
        untouched = s.get(PlatformIdentity, a)
        assert untouched is not None and reveal_address(untouched, keyring) == PHONES[0]


def test_value_copied_to_another_column_fails(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    a, *_ = _store_people(sessions, keyring)
    _put_raw(sessions, "label", a, _raw(sessions, "address", a))
    with sessions() as s:
        row = s.get(PlatformIdentity, a)
        assert row is not None
        with pytest.raises(DecryptionFailed):
            reveal_label(row, keyring)


def test_encrypted_column_refuses_plaintext(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    with pytest.raises(StorageError, match="unsealed") as info:
        PlatformIdentity(id="0" * 32, platform="telegram", role="unknown",
                         created_at=NOW, address="123456789")  # type: ignore[arg-type]
    assert "123456789" not in str(info.value)
    row = PlatformIdentity(id="2" * 32, platform="telegram", role="unknown", created_at=NOW)
    with pytest.raises(StorageError, match="unsealed"):
        row.label = b"raw bytes are not sealed either"  # type: ignore[assignment]
    with pytest.raises(StorageError, match="malformed"):
        row.address = Sealed(b"\x00\x00" + bytes(40))


def test_old_version_rows_still_open_after_adding_v2(
    sessions: sessionmaker[Session],
) -> None:
    v1 = Keyring.from_env_value(KEYS_V1)
    ids = _store_people(sessions, v1)
    v2 = Keyring.from_env_value(KEYS_V2)
    with sessions() as s:
        found = find_identity(s, v2, "whatsapp", PHONES[1])  # the index is the epoch's
        assert found is not None and found.id == ids[1]
        # The address is sealed under the person's DEK (key tree), whose KEK the env
        # root wrapped under keyring version 1: v2 still holds version 1, so it opens.
        assert found.address is not None and found.address.dek is not None
        # ... under the shred epoch's index DEK, not a keyring version (ADR 0039 Am. 1)
        assert found.address_bidx is not None and bi.is_tree_index(found.address_bidx)
        assert reveal_address(found, v2) == PHONES[1]
    with sessions.begin() as s:  # new rows: the same epoch's index key, their own DEK
        new, _ = get_or_create_identity(s, v2, "telegram", "777777777", now=NOW)
        assert new.address is not None and new.address.dek is not None
        assert new.address_bidx is not None
        assert new.address_bidx[:bi.PREFIX_BYTES] == found.address_bidx[:bi.PREFIX_BYTES]


def test_rewrap_moves_everything_to_the_current_version(
    sessions: sessionmaker[Session],
) -> None:
    v1 = Keyring.from_env_value(KEYS_V1)
    _store_people(sessions, v1)
    with sessions.begin() as s:
        # A grant by address (under its own DEK; rewrap must re-index it too).
        person = AdminPerson(id=new_id(), created_at=NOW)
        s.add(person)
        s.flush()
        grant = ClinicAdmin(id=new_id(), platform="whatsapp", identity_id=None,
                            person_id=person.id, added_by=None, added_at=NOW)
        ClinicAdmin.ADDRESS.store(grant, v1, "+15550001111", session=s, now=NOW)
        s.add(grant)
    v2 = Keyring.from_env_value(KEYS_V2)
    with sessions() as s:
        # Values are tree-sealed and indexes under the epoch's index DEK: no row follows
        # the keyring; only the KEK does (rewrapped once, not counted as a row).
        assert sum(count_stale(s, v2).values()) == 0
    seen: list[tuple[str, str, int, int]] = []
    changed = rewrap(sessions, v2, batch_size=2, progress=lambda *a: seen.append(a))
    assert changed == 0
    assert seen and seen[-1][2] == seen[-1][3]
    assert rewrap(sessions, v2) == 0  # idempotent
    with sessions() as s:
        assert all(u.version == 2 for u in key_status(s))
        assert sum(count_stale(s, v2).values()) == 0
    only_v2 = Keyring.from_env_value(KEYS_V2.split(",")[0])
    with sessions.begin() as s:
        verify_keyring(s, only_v2)
        found = find_identity(s, only_v2, "whatsapp", PHONES[2])
        assert found is not None and reveal_label(found, only_v2) == LABEL
        candidates = ClinicAdmin.ADDRESS.index_candidates(only_v2, "+15550001111",
                                                          session=s)
        admin = s.scalars(select(ClinicAdmin).where(
            ClinicAdmin.platform == "whatsapp",
            ClinicAdmin.address_bidx.in_(candidates))).one()
        assert ClinicAdmin.ADDRESS.reveal(admin, only_v2) == "+15550001111"


def test_removing_a_version_in_use_names_table_column_and_count(
    sessions: sessionmaker[Session],
) -> None:
    _store_people(sessions, Keyring.from_env_value(KEYS_V1))
    only_v2 = Keyring.from_env_value(KEYS_V2.split(",")[0])
    with sessions() as s, pytest.raises(KeyVersionMissing) as info:
        verify_keyring(s, only_v2)
    message = str(info.value)
    # (the blind indexes are under the epoch's index DEK, below that KEK: ADR 0039 Am. 1)
    assert "keks: 1 KEK(s) on root version 1" in message
    with pytest.raises(KeyVersionMissing):
        rewrap(sessions, only_v2)
    with sessions() as s:
        row = s.scalars(select(PlatformIdentity)).first()
        assert row is not None
        with pytest.raises(KeyVersionMissing, match="version 1"):
            reveal_address(row, only_v2)


def test_erasure_removes_sealed_values(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    a, *_ = _store_people(sessions, keyring)
    with sessions.begin() as s:
        assert erase_identity(s, a, now=NOW)
        assert not erase_identity(s, a, now=NOW)  # once erased, nothing left to erase
    with sessions() as s:
        assert find_identity(s, keyring, "whatsapp", PHONES[0]) is None
        row = s.get(PlatformIdentity, a)
        assert row is not None and row.address is None and row.label is None
        with pytest.raises(StorageError, match="erased"):
            reveal_address(row, keyring)
