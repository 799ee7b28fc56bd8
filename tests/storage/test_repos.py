"""Repositories on SQLite and PostgreSQL: pairings, epochs, tokens, parts, dedupe, admins.

Every function here is one the bot calls; the relay's and the jobs' own tests cover
them again end to end.
"""

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
from medcrypt.crypto.keyless.tags import tag_of_hex
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.models.epochs import Epoch
from medcrypt.storage.models.outbox import OutboxMessage
from medcrypt.storage.models.tokens import StoredToken
from medcrypt.storage.repos import admins, epochs, outbox, shred
from medcrypt.storage.repos.escrow import deposits_raw, store_deposit
from medcrypt.storage.repos.identities import get_or_create_identity
from medcrypt.storage.repos.inbound import purge_inbound, record_inbound, seen
from medcrypt.storage.repos.media import media_for_url, publish_media, purge_media
from medcrypt.storage.repos.pairings import (
    accept_pairing,
    get_pairing,
    pairings_of,
    register_pairing,
    route,
)
from medcrypt.storage.repos.tokens import collect_part, purge_parts, relayed_raw, store_relayed
from tests.support.storage import NOW

PID = "ab" * 16
TAG = tag_of_hex(PID)


def _pair(s: Session, keyring: Keyring) -> tuple[str, str]:
    doc, _ = get_or_create_identity(s, keyring, "telegram", "1111111111", now=NOW,
                                    role="physician")
    pat, _ = get_or_create_identity(s, keyring, "whatsapp", "+15550002222", now=NOW,
                                    role="patient")
    assert register_pairing(s, pairing_id=PID, physician_id=doc.id, start_epoch=682,
                            grace_days=7, offer_expires_at=NOW + timedelta(minutes=10), now=NOW,
                            tag=TAG)
    accept_pairing(s, PID, patient_id=pat.id, now=NOW + timedelta(minutes=1),
                   consent_channel="whatsapp", consent_notice_version="2026-11")
    return doc.id, pat.id


def _token(s: Session, epoch: int, index: int, raw: bytes) -> None:
    epochs.ensure_epoch(s, PID, epoch, now=NOW)
    store_relayed(s, pairing_id=PID, epoch=epoch, direction=index % 2, msg_index=index,
                  kind=1, raw=raw, now=NOW)


def _file(s: Session, epoch: int, data: bytes, recipient: str) -> tuple[int, str]:
    """A relayed file as the outbox stores it; returns its outbox row and media ids."""
    row_id, = outbox.enqueue(s, recipient_id=recipient, origin_id=None, pairing_id=PID,
                             payload_kind="document", payloads=[b"hdr"], now=NOW,
                             file=outbox.NewFile(data, PID, epoch))
    media_id = s.scalar(select(OutboxMessage.media_id).where(OutboxMessage.id == row_id))
    assert media_id is not None
    return row_id, media_id


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
        # A second registration of the same id is refused and changes nothing.
        assert not register_pairing(s, pairing_id=PID, physician_id=doc, start_epoch=682,
                                    grace_days=7, offer_expires_at=NOW, now=NOW, tag=TAG)
        assert get_pairing(s, PID) == p
        opened, later = route(s, PID, 682), route(s, PID, 683)
        assert opened is not None and opened.epoch_state == "active"  # opened by the accept
        assert later is not None and later.epoch_state is None
        assert route(s, "00" * 16, 682) is None


def test_expired_and_unknown_offers(sessions: sessionmaker[Session], keyring: Keyring) -> None:
    with sessions.begin() as s:
        doc, _ = get_or_create_identity(s, keyring, "telegram", "1111111111", now=NOW)
        register_pairing(s, pairing_id=PID, physician_id=doc.id, start_epoch=682, grace_days=7,
                         offer_expires_at=NOW, now=NOW, tag=TAG)
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
        doc, _ = _pair(s, keyring)
        for i in range(3):
            _token(s, 682, i, b"tok%d" % i)
        _token(s, 683, 0, b"next")
        _row, media_id = _file(s, 682, b"ct", doc)
        assert publish_media(s, media_id, "url-token", expires_at=NOW + timedelta(hours=1))
    with sessions.begin() as s:
        assert media_for_url(s, "url-token", now=NOW) == b"ct"
        assert epochs.retire_before(s, before_epoch=683, now=NOW) == [(PID, 682)]
        assert epochs.live_past(s, 683) == [(PID, 682, 7)]
        assert epochs.claim_shred(s, 682, [PID], now=NOW) == [PID]
        assert epochs.claim_shred(s, 682, [PID], now=NOW) == []  # claimed once only
        deleted = shred.delete_tokens(s, 682, [PID]) + shred.delete_media(s, 682, [PID])
        assert sum(deleted.values()) == 4
    with sessions() as s:
        assert relayed_raw(s, PID, 1) == [b"next"]
        assert media_for_url(s, "url-token", now=NOW) is None
        states = {e: st for e, st in s.execute(select(Epoch.epoch, Epoch.state))}
        assert states == {682: "shredded", 683: "active"}
        assert epochs.shredded_epochs(s, PID) == {682}


def test_epoch_row_delete_cascades_to_tokens(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    with sessions.begin() as s:
        _pair(s, keyring)
        _token(s, 682, 0, b"t")
    with sessions.begin() as s:
        epoch = s.scalars(select(Epoch)).one()
        s.delete(epoch)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(StoredToken)) == 0


def test_epoch_rows_are_insert_if_absent(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    with sessions.begin() as s:
        _pair(s, keyring)  # the accept opened 682
        assert not epochs.ensure_epoch(s, PID, 682, now=NOW, retired=True)
        assert epochs.ensure_epoch(s, PID, 681, now=NOW, retired=True)
        assert epochs.epoch_state(s, PID, 682) == "active"
        assert epochs.epoch_state(s, PID, 681) == "retired"
        assert epochs.epoch_state(s, PID, 680) is None


def test_parts_are_assembled_once_complete(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    with sessions.begin() as s:
        sender, _ = get_or_create_identity(s, keyring, "telegram", "5555555", now=NOW)
        kw = {"sender_id": sender.id, "group_id": "g1", "part_count": 3, "now": NOW,
              "max_pending_groups": 32}
        assert collect_part(s, part_index=2, chunk=b"c", **kw) is None  # type: ignore[arg-type]
        assert collect_part(s, part_index=0, chunk=b"a", **kw) is None  # type: ignore[arg-type]
        assert collect_part(s, part_index=0, chunk=b"a", **kw) is None  # type: ignore[arg-type]
        assert collect_part(s, part_index=1, chunk=b"b", **kw) == [b"a", b"b", b"c"]  # type: ignore[arg-type]
        with pytest.raises(MalformedToken):
            collect_part(s, part_index=3, chunk=b"x", **kw)  # type: ignore[arg-type]
        collect_part(s, sender_id=sender.id, group_id="g2", part_index=0, part_count=2,
                     chunk=b"x", now=NOW, max_pending_groups=32)
        with pytest.raises(MalformedToken):
            collect_part(s, sender_id=sender.id, group_id="g2", part_index=1, part_count=3,
                         chunk=b"y", now=NOW, max_pending_groups=32)
        with pytest.raises(LimitExceeded):
            collect_part(s, sender_id=sender.id, group_id="g3", part_index=0, part_count=2,
                         chunk=b"z", now=NOW, max_pending_groups=1)
        assert purge_parts(s, older_than=NOW + timedelta(seconds=1)) == 1


def test_inbound_keys_and_deposits_are_insert_if_absent(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    with sessions.begin() as s:
        assert record_inbound(s, "telegram", "m1", now=NOW)
        assert not record_inbound(s, "telegram", "m1", now=NOW)
        assert record_inbound(s, "whatsapp", "m1", now=NOW)
        assert seen(s, "telegram", "m1") and not seen(s, "telegram", "m2")
        assert purge_inbound(s, older_than=NOW + timedelta(days=1)) == 2
        _pair(s, keyring)
        assert store_deposit(s, pairing_id=PID, epoch=682, direction=0, raw=b"d0", now=NOW)
        assert not store_deposit(s, pairing_id=PID, epoch=682, direction=0, raw=b"evil",
                                 now=NOW)
        assert store_deposit(s, pairing_id=PID, epoch=682, direction=1, raw=b"d1", now=NOW)
        assert deposits_raw(s, PID) == [b"d0", b"d1"]


def test_media_tokens_expire(sessions: sessionmaker[Session], keyring: Keyring) -> None:
    with sessions.begin() as s:
        doc, _ = _pair(s, keyring)
        row_id, media_id = _file(s, 682, b"ct", doc)
        outbox.mark_dead_by_id(s, row_id, "test", NOW)  # nothing waits for the file now
        token = "a-url-token"
        assert publish_media(s, media_id, token, expires_at=NOW + timedelta(hours=1))
        assert not publish_media(s, "0" * 32, token, expires_at=NOW)  # no such file
        assert media_for_url(s, token, now=NOW) == b"ct"
        assert media_for_url(s, token + "x", now=NOW) is None
        assert media_for_url(s, token, now=NOW + timedelta(hours=1)) is None
        assert purge_media(s, now=NOW + timedelta(hours=2)) == 1


def test_admin_grants_by_identity(sessions: sessionmaker[Session], keyring: Keyring) -> None:
    with sessions.begin() as s:
        boss, _ = get_or_create_identity(s, keyring, "telegram", "99999999", now=NOW)
        later, _ = get_or_create_identity(s, keyring, "whatsapp", "whatsapp:+15550003333",
                                          now=NOW)
        stranger, _ = get_or_create_identity(s, keyring, "whatsapp", "+15550004444", now=NOW)
        one, two = admins.new_person(s, now=NOW), admins.new_person(s, now=NOW)
        first = admins.grant(s, identity_id=boss.id, platform="telegram", person_id=one,
                             added_by=None, now=NOW)
        admins.grant(s, identity_id=later.id, platform="whatsapp", person_id=two,
                     added_by=boss.id, confirmed_by=stranger.id, added_by_person="person:a",
                     confirmed_by_person="person:b", now=NOW + timedelta(seconds=1))
        assert admins.active_grant(s, boss.id) == first
        assert admins.active_grant(s, later.id) is not None
        assert admins.active_grant(s, stranger.id) is None
        assert (admins.person_of(s, boss.id), admins.person_of(s, stranger.id)) == (one, None)
        assert admins.admin_identity_ids(s) == [boss.id, later.id]
        assert admins.persons(s) == {one: [boss.id], two: [later.id]}
        assert admins.revoke_all(s, later.id, now=NOW) == 1
        assert admins.active_grant(s, later.id) is None
        assert admins.person_identities(s, two) == []
        # Who made a person an admin outlives the revocation.
        (made,) = admins.person_grants(s, two)
        assert (made.added_by, made.confirmed_by, made.added_by_person,
                made.confirmed_by_person, made.removed_at) == (
            boss.id, stranger.id, "person:a", "person:b", NOW)
        admins.revoke_grant(s, first, now=NOW)
        assert admins.admin_identity_ids(s) == []
        assert admins.persons(s) == {}
