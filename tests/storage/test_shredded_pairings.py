"""A pairing ``/shred`` ended: the repository's claim, the relay's view, and migration 0011.

The migration test is the reason the fact is a column: it upgrades and downgrades a
database that holds a pairing with epochs, tokens and a deposit, and every row must
survive (a rebuild of ``pairings`` under ``foreign_keys=ON`` would cascade-delete them).
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from medcrypt.crypto.keyless.tags import tag_of_hex
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import migrate
from medcrypt.storage.db import make_engine
from medcrypt.storage.repos import epochs
from medcrypt.storage.repos.escrow import store_deposit
from medcrypt.storage.repos.identities import get_or_create_identity
from medcrypt.storage.repos.pairings import (
    accept_pairing,
    end_by_shred,
    get_pairing,
    register_pairing,
    route,
    set_pairing_status,
)
from medcrypt.storage.repos.tokens import store_relayed
from tests.support.storage import NOW, legacy_identity

PID = "cd" * 16
TAG = tag_of_hex(PID)
LATER = NOW + timedelta(days=3)


def _pair(s: Session, keyring: Keyring, *, complete: bool = True) -> None:
    doc, _ = get_or_create_identity(s, keyring, "telegram", "1111111111", now=NOW,
                                    role="physician")
    pat, _ = get_or_create_identity(s, keyring, "whatsapp", "+15550002222", now=NOW,
                                    role="patient")
    if complete:
        assert register_pairing(s, pairing_id=PID, physician_id=doc.id, start_epoch=682,
                                grace_days=7, offer_expires_at=NOW + timedelta(minutes=10),
                                now=NOW, tag=TAG)
        accept_pairing(s, PID, patient_id=pat.id, now=NOW, consent_channel="whatsapp",
                       consent_notice_version="1")


def test_a_shred_ends_the_pairing_once_and_the_route_says_so(
        sessions: sessionmaker[Session], keyring: Keyring) -> None:
    with sessions.begin() as s:
        _pair(s, keyring)
        assert end_by_shred(s, PID, now=NOW)
        assert not end_by_shred(s, PID, now=LATER)  # the first time is the one recorded
        assert not end_by_shred(s, "00" * 16, now=NOW)
    with sessions() as s:
        p = get_pairing(s, PID)
        assert p is not None and (p.status, p.shredded_at) == ("unpaired", NOW)
        for epoch in (682, 683, 700):  # whatever the month
            r = route(s, PID, epoch)
            assert r is not None and r.shredded_at == NOW and r.status == "unpaired"


def test_an_erased_pairing_stays_erased(sessions: sessionmaker[Session],
                                        keyring: Keyring) -> None:
    with sessions.begin() as s:
        _pair(s, keyring)
        set_pairing_status(s, PID, "erased")
        assert not end_by_shred(s, PID, now=NOW)
        p = get_pairing(s, PID)
        assert p is not None and (p.status, p.shredded_at) == ("erased", None)


def test_migration_0011_keeps_every_row_both_ways(database_url: str, keyring: Keyring) -> None:
    migrate.upgrade(database_url, "0009_job_reference_namespace")
    engine = make_engine(database_url)
    counts = "SELECT (SELECT count(*) FROM pairings), (SELECT count(*) FROM epochs), " \
             "(SELECT count(*) FROM stored_tokens), (SELECT count(*) FROM escrow_deposits)"
    try:
        with Session(engine) as s, s.begin():
            # Core statements only: the ORM model already has the columns 0011 and 0018 add
            # (and seals under the key tree of 0021).
            legacy_identity(s, keyring, "telegram", "1111111111", role="physician")
            legacy_identity(s, keyring, "whatsapp", "+15550002222", role="patient")
            s.execute(sa.text(
                "INSERT INTO pairings (pairing_id, physician_id, status, start_epoch,"
                " grace_days, offer_expires_at, created_at) SELECT :p, id, 'active', 682, 7,"
                " :now, :now FROM platform_identities WHERE role = 'physician'"),
                {"p": PID, "now": NOW})
            epochs.ensure_epoch(s, PID, 682, now=NOW)
            epochs.ensure_epoch(s, PID, 683, now=NOW)
            store_relayed(s, pairing_id=PID, epoch=682, direction=0, msg_index=0, kind=1,
                          raw=b"t" * 80, now=NOW)
            store_deposit(s, pairing_id=PID, epoch=682, direction=0, raw=b"d" * 80, now=NOW)
        with engine.connect() as c:
            before = tuple(c.exec_driver_sql(counts).one())
        assert before == (1, 2, 1, 1)
    finally:
        engine.dispose()
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as c:
            assert tuple(c.exec_driver_sql(counts).one()) == before
            assert "shredded_at" in {col["name"] for col in sa.inspect(c).get_columns("pairings")}
    finally:
        engine.dispose()
    migrate.downgrade(database_url, "0009_job_reference_namespace")
    engine = make_engine(database_url)
    try:
        with engine.connect() as c:
            assert tuple(c.exec_driver_sql(counts).one()) == before
            assert "shredded_at" not in {
                col["name"] for col in sa.inspect(c).get_columns("pairings")}
    finally:
        engine.dispose()
