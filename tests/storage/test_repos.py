"""Repositories on SQLite and PostgreSQL: pairings, epochs, tokens, parts, dedupe."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from medcrypt.crypto.errors import (
    LimitExceeded,
    MalformedToken,
    OfferExpired,
    OfferReused,
    WrongPairing,
)
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.models.epochs import Epoch
from medcrypt.storage.models.tokens import StoredToken
from medcrypt.storage.repos.admins import add_admin, is_admin, list_admins, remove_admin
from medcrypt.storage.repos.escrow import deposits_of, store_deposit
from medcrypt.storage.repos.identities import get_or_create_identity
from medcrypt.storage.repos.inbound import purge_inbound, record_inbound
from medcrypt.storage.repos.media import find_media, purge_media, store_media
from medcrypt.storage.repos.pairings import (
    accept_pairing,
    create_pairing,
    epochs_in_state,
    get_pairing,
    pairings_of,
    retire_epoch,
    shred_epoch,
)
from medcrypt.storage.repos.tokens import add_part, purge_parts, store_token, tokens_of_epoch
from tests.support.storage import NOW

PID = "ab" * 16


def _pair(s: Session, keyring: Keyring) -> tuple[str, str]:
    doc, _ = get_or_create_identity(s, keyring, "telegram", "1111111111", now=NOW,
                                    role="physician")
    pat, _ = get_or_create_identity(s, keyring, "whatsapp", "+15550002222", now=NOW,
                                    role="patient")
    create_pairing(s, pairing_id=PID, physician_id=doc.id, start_epoch=682, grace_days=7,
                   offer_expires_at=NOW + timedelta(minutes=10), now=NOW)
    accept_pairing(s, PID, patient_id=pat.id, now=NOW + timedelta(minutes=1),
                   consent_channel="whatsapp", consent_notice_version="2026-11")
    return doc.id, pat.id


def test_pairing_life_cycle(sessions: sessionmaker[Session], keyring: Keyring) -> None:
    with sessions.begin() as s:
        doc, pat = _pair(s, keyring)
    with sessions.begin() as s:
        p = get_pairing(s, PID)
        assert p is not None and p.status == "active" and p.patient_id == pat
        assert p.consent_notice_version == "2026-11" and p.consent_at is not None
        assert [x.pairing_id for x in pairings_of(s, doc)] == [PID]
        assert [x.pairing_id for x in pairings_of(s, pat)] == [PID]
        with pytest.raises(OfferReused):
            accept_pairing(s, PID, patient_id=pat, now=NOW, consent_channel="telegram",
                           consent_notice_version="x")
        with pytest.raises(OfferReused):
            create_pairing(s, pairing_id=PID, physician_id=doc, start_epoch=682, grace_days=7,
                           offer_expires_at=NOW, now=NOW)


def test_expired_and_unknown_offers(sessions: sessionmaker[Session], keyring: Keyring) -> None:
    with sessions.begin() as s:
        doc, _ = get_or_create_identity(s, keyring, "telegram", "1111111111", now=NOW)
        create_pairing(s, pairing_id=PID, physician_id=doc.id, start_epoch=682, grace_days=7,
                       offer_expires_at=NOW, now=NOW)
        with pytest.raises(OfferExpired):
            accept_pairing(s, PID, patient_id=doc.id, now=NOW, consent_channel="telegram",
                           consent_notice_version="1")
        with pytest.raises(WrongPairing):
            accept_pairing(s, "00" * 16, patient_id=doc.id, now=NOW,
                           consent_channel="telegram", consent_notice_version="1")


def test_shredding_an_epoch_deletes_its_tokens_and_media(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    with sessions.begin() as s:
        _pair(s, keyring)
        for i in range(3):
            store_token(s, pairing_id=PID, epoch=682, direction=0, msg_index=i, kind=1,
                        raw=b"tok%d" % i, now=NOW)
        store_token(s, pairing_id=PID, epoch=683, direction=1, msg_index=0, kind=1,
                    raw=b"next", now=NOW)
        _blob, token = store_media(s, pairing_id=PID, epoch=682, data=b"ct", content_type="x",
                                   expires_at=NOW + timedelta(hours=1), now=NOW)
    with sessions.begin() as s:
        assert find_media(s, token, now=NOW) is not None
        retire_epoch(s, PID, 682, now=NOW)
        assert [e.epoch for e in epochs_in_state(s, "retired")] == [682]
        assert shred_epoch(s, PID, 682, now=NOW) == 4
    with sessions() as s:
        assert tokens_of_epoch(s, PID, 682) == []
        assert [t.raw for t in tokens_of_epoch(s, PID, 683)] == [b"next"]
        assert find_media(s, token, now=NOW) is None
        states = {e: st for e, st in s.execute(select(Epoch.epoch, Epoch.state))}
        assert states == {682: "shredded", 683: "active"}


def test_epoch_row_delete_cascades_to_tokens(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    with sessions.begin() as s:
        _pair(s, keyring)
        store_token(s, pairing_id=PID, epoch=682, direction=0, msg_index=0, kind=1, raw=b"t",
                    now=NOW)
    with sessions.begin() as s:
        epoch = s.scalars(select(Epoch)).one()
        s.delete(epoch)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(StoredToken)) == 0


def test_parts_are_assembled_once_complete(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    with sessions.begin() as s:
        sender, _ = get_or_create_identity(s, keyring, "telegram", "5555555", now=NOW)
        kw = {"sender_id": sender.id, "group_id": "g1", "part_count": 3, "now": NOW}
        assert add_part(s, part_index=2, chunk=b"c", **kw) is None  # type: ignore[arg-type]
        assert add_part(s, part_index=0, chunk=b"a", **kw) is None  # type: ignore[arg-type]
        assert add_part(s, part_index=0, chunk=b"a", **kw) is None  # type: ignore[arg-type]
        assert add_part(s, part_index=1, chunk=b"b", **kw) == [b"a", b"b", b"c"]  # type: ignore[arg-type]
        with pytest.raises(MalformedToken):
            add_part(s, part_index=3, chunk=b"x", **kw)  # type: ignore[arg-type]
        add_part(s, sender_id=sender.id, group_id="g2", part_index=0, part_count=2, chunk=b"x",
                 now=NOW)
        with pytest.raises(MalformedToken):
            add_part(s, sender_id=sender.id, group_id="g2", part_index=1, part_count=3,
                     chunk=b"y", now=NOW)
        with pytest.raises(LimitExceeded):
            add_part(s, sender_id=sender.id, group_id="g3", part_index=0, part_count=2,
                     chunk=b"z", now=NOW, max_pending_per_sender=1)
        assert purge_parts(s, older_than=NOW + timedelta(seconds=1)) == 1


def test_inbound_keys_and_deposits_are_insert_if_absent(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    with sessions.begin() as s:
        assert record_inbound(s, "telegram", "m1", now=NOW)
        assert not record_inbound(s, "telegram", "m1", now=NOW)
        assert record_inbound(s, "whatsapp", "m1", now=NOW)
        assert purge_inbound(s, older_than=NOW + timedelta(days=1)) == 2
        _pair(s, keyring)
        assert store_deposit(s, pairing_id=PID, epoch=682, direction=0, raw=b"d0", now=NOW)
        assert not store_deposit(s, pairing_id=PID, epoch=682, direction=0, raw=b"evil",
                                 now=NOW)
        assert store_deposit(s, pairing_id=PID, epoch=682, direction=1, raw=b"d1", now=NOW)
        assert [d.raw for d in deposits_of(s, PID, 682)] == [b"d0", b"d1"]


def test_media_tokens_expire(sessions: sessionmaker[Session], keyring: Keyring) -> None:
    with sessions.begin() as s:
        _pair(s, keyring)
        blob, token = store_media(s, pairing_id=PID, epoch=682, data=b"ct",
                                  content_type="application/octet-stream",
                                  expires_at=NOW + timedelta(hours=1), now=NOW)
        assert token.encode() not in blob.url_token_hash
        assert find_media(s, token, now=NOW) is not None
        assert find_media(s, token + "x", now=NOW) is None
        assert find_media(s, token, now=NOW + timedelta(hours=1)) is None
        assert purge_media(s, now=NOW + timedelta(hours=2)) == 1


def test_admins_by_identity_and_by_address(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    with sessions.begin() as s:
        boss, _ = get_or_create_identity(s, keyring, "telegram", "99999999", now=NOW)
        add_admin(s, keyring, now=NOW, identity=boss)
        add_admin(s, keyring, now=NOW, platform="whatsapp", address="+15550003333",
                  added_by=boss.id)
        later, _ = get_or_create_identity(s, keyring, "whatsapp", "whatsapp:+15550003333",
                                          now=NOW)
        stranger, _ = get_or_create_identity(s, keyring, "whatsapp", "+15550004444", now=NOW)
        assert is_admin(s, keyring, boss)
        assert is_admin(s, keyring, later)
        assert not is_admin(s, keyring, stranger)
        assert len(list_admins(s)) == 2
        assert remove_admin(s, keyring, later, now=NOW) == 1
        assert not is_admin(s, keyring, later)
