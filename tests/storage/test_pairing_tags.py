"""Pairing tags in the database: unique, found by tag, and migration 0018 on old rows.

The collision cases are real collisions: two pairing ids with the same tag, found by a
birthday search over 30 bits (tens of thousands of hashes, a fraction of a second).
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from medcrypt.crypto.keyless.tags import tag_of_hex
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import migrate
from medcrypt.storage.db import make_engine
from medcrypt.storage.repos.identities import get_or_create_identity
from medcrypt.storage.repos.pairings import by_tag, get_pairing, register_pairing
from tests.support.storage import NOW, legacy_identity
from tests.support.tags import colliding_ids

FIRST, SECOND = colliding_ids()
OTHER = "ab" * 16


def _physician(s: Session, keyring: Keyring) -> str:
    doc, _ = get_or_create_identity(s, keyring, "telegram", "1111111111", now=NOW,
                                    role="physician")
    s.flush()
    return doc.id


def _register(s: Session, physician: str, pid: str, tag: str) -> bool:
    return register_pairing(s, pairing_id=pid, physician_id=physician, start_epoch=682,
                            grace_days=7, offer_expires_at=NOW + timedelta(minutes=10),
                            now=NOW, tag=tag)


def test_a_tag_names_one_pairing(migrated_url: str, keyring: Keyring) -> None:
    assert FIRST != SECOND and tag_of_hex(FIRST) == tag_of_hex(SECOND)
    engine = make_engine(migrated_url)
    try:
        with Session(engine) as s, s.begin():
            doc = _physician(s, keyring)
            assert _register(s, doc, FIRST, tag_of_hex(FIRST))
            # The database refuses the second holder of the tag; nothing is written.
            assert not _register(s, doc, SECOND, tag_of_hex(SECOND))
            assert get_pairing(s, SECOND) is None
            found = by_tag(s, tag_of_hex(FIRST))
            assert found is not None and found.pairing_id == FIRST
            assert found.tag == tag_of_hex(FIRST)
            assert by_tag(s, tag_of_hex(OTHER)) is None
    finally:
        engine.dispose()


def test_migration_0018_tags_old_pairings_and_keeps_them_both_ways(
        database_url: str, keyring: Keyring) -> None:
    migrate.upgrade(database_url, "0017_v3_upgrade")
    engine = make_engine(database_url)
    insert = sa.text(
        "INSERT INTO pairings (pairing_id, physician_id, status, start_epoch, grace_days,"
        " offer_expires_at, created_at) VALUES (:p, :d, 'active', 682, 7, :at, :at)")
    try:
        with Session(engine) as s, s.begin():
            # As 0017's code wrote it (the ORM now seals under the key tree of 0021).
            doc = legacy_identity(s, keyring, "telegram", "1111111111", role="physician")
            for pid, minutes in ((SECOND, 5), (FIRST, 0), (OTHER, 1)):
                s.execute(insert, {"p": pid, "d": doc, "at": NOW + timedelta(minutes=minutes)})
    finally:
        engine.dispose()
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as c:
            tags = dict(c.execute(sa.text("SELECT pairing_id, tag FROM pairings")).all())
    finally:
        engine.dispose()
    # The older of two colliding pairings keeps the tag; the newer is named by its id.
    assert tags == {FIRST: tag_of_hex(FIRST), OTHER: tag_of_hex(OTHER), SECOND: None}
    migrate.downgrade(database_url, "0017_v3_upgrade")
    engine = make_engine(database_url)
    try:
        with engine.connect() as c:
            assert c.execute(sa.text("SELECT count(*) FROM pairings")).scalar() == 3
            assert "tag" not in {col["name"] for col in sa.inspect(c).get_columns("pairings")}
    finally:
        engine.dispose()
