"""The other sealed columns on the key tree (ADR 0037, Amendment 1): break-glass reasons
and the audit log's keys under purpose DEKs, address grants under a DEK of their own.

The attack test comes first, as for identities: a replica that holds a purpose DEK in
memory must not open a value once that DEK's row says it was destroyed.
"""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.errors import DecryptionFailed, DekDestroyed
from medcrypt.crypto.server import keytree as kt
from medcrypt.crypto.server.audit import Action
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import deks
from medcrypt.storage.audit import AuditLog
from medcrypt.storage.models.admins import AdminPerson, ClinicAdmin
from medcrypt.storage.models.audit import AuditSecret, AuditSubjectKey
from medcrypt.storage.models.breakglass import BreakGlassRequest
from medcrypt.storage.models.keytree import Dek
from medcrypt.storage.repos.breakglass import create_request, reveal_reason
from medcrypt.storage.repos.identities import erase_identity, get_or_create_identity
from tests.support.storage import KEYS_V1, NOW

REASON = "ICU: patient unresponsive, physician unreachable"


def _replica() -> Keyring:
    """One bot process: its own keyring object and so its own tree and caches."""
    return Keyring.from_env_value(KEYS_V1)


def _request(sessions: sessionmaker[Session], ring: Keyring, code: str) -> str:
    with sessions.begin() as s:
        create_request(s, ring, code=code, pairing_id=b"\x01" * 16, requester_id="a" * 32,
                       requester_person="person:" + "b" * 24, reason=REASON, now=NOW,
                       expires_at=NOW + timedelta(hours=1))
        return str(s.scalar(select(BreakGlassRequest.id).where(BreakGlassRequest.code == code)))


def test_a_replica_with_a_purpose_dek_cached_cannot_use_a_destroyed_one(
        sessions: sessionmaker[Session]) -> None:
    a, b = _replica(), _replica()
    _request(sessions, b, "0123456789")
    with sessions() as s:  # replica A opens the reason: the purpose DEK is in its cache
        assert reveal_reason(s, a, "0123456789") == REASON
        row = s.scalars(select(BreakGlassRequest)).one()
        dek_id, version, sealed = row.dek_id, row.dek_version, row.reason
    assert dek_id is not None and version is not None
    tree_a = deks.tree_of(a)
    assert tree_a.cached_dek(dek_id, version)
    with sessions.begin() as s:  # the purpose DEK is destroyed (by another replica)
        deks.destroy_dek(s, dek_id, now=NOW)
    # The attack: A still holds the key, and with the cache alone the value opens.
    cached = tree_a._deks[(dek_id, version)].key
    assert kt.open_value(cached, sealed.data, table="breakglass_requests", column="reason",
                         row_id=row.id) == REASON.encode()
    with sessions() as s, pytest.raises(DekDestroyed):
        reveal_reason(s, a, "0123456789")
    assert not tree_a.cached_dek(dek_id, version)  # and the cached copy was zeroed


def test_break_glass_reasons_share_the_purpose_dek_and_make_no_provider_call(
        sessions: sessionmaker[Session]) -> None:
    ring = _replica()
    first = _request(sessions, ring, "aaaaaaaaaa")  # makes the KEK and the purpose DEK
    tree = deks.tree_of(ring)
    calls = tree.provider_calls
    second = _request(sessions, ring, "bbbbbbbbbb")
    assert tree.provider_calls == calls  # warm KEK: the seal is local work
    with sessions() as s:
        rows = {r.id: r for r in s.scalars(select(BreakGlassRequest))}
        purpose = s.scalars(select(Dek).where(Dek.purpose == "breakglass")).one()
        assert purpose.person_id is None
        for row_id in (first, second):
            row = rows[row_id]
            assert row.dek_id == purpose.id and row.dek_version == purpose.version
            assert row.reason.dek == kt.DekRef(purpose.id, purpose.version)
        # Moved to another request, a reason does not open: the row id is in the AAD.
        other = rows[second]
        other.reason = rows[first].reason
        with pytest.raises(DecryptionFailed):
            BreakGlassRequest.REASON.reveal(other, _replica())
        s.rollback()
        assert reveal_reason(s, _replica(), "bbbbbbbbbb") == REASON  # another replica


def test_audit_keys_are_sealed_under_purpose_deks_and_checked_per_load(
        engine: Engine) -> None:
    ring = _replica()
    log = AuditLog(engine, ring, clock=FixedClock(NOW))
    alice = log.pseudonym("patient", "alice")
    log.append(log.pseudonym("admin", 1), Action.RELAY_ACCEPTED, alice, {"direction": 0})
    with engine.connect() as conn:
        keys = conn.execute(text(
            "SELECT k.wrapped, k.dek_id, k.dek_version, d.purpose, d.person_id, d.version "
            "FROM audit_subject_keys k JOIN deks d ON d.id = k.dek_id")).all()
        secret = conn.execute(text(
            "SELECT s.wrapped, d.purpose FROM audit_secrets s JOIN deks d ON d.id = s.dek_id"
        )).one()
    assert {k.purpose for k in keys} == {"audit-subject"} and len(keys) == 1
    assert all(k.person_id is None and k.dek_version == k.version for k in keys)
    assert all(kt.is_tree_sealed(bytes(k.wrapped)) for k in keys)
    assert secret.purpose == "audit-secret" and kt.is_tree_sealed(bytes(secret.wrapped))
    # Another replica reads them: the pseudonym is the same and the details open.
    other = AuditLog(engine, _replica(), clock=FixedClock(NOW))
    assert other.pseudonym("patient", "alice") == alice
    assert [e.details for e in other.export(subject=alice)] == [{"direction": 0}]
    # The purpose DEK is destroyed: a replica that had the subject key cached is refused
    # at its next load, before the key is used.
    with Session(engine) as s, s.begin():
        deks.destroy_dek(s, str(keys[0].dek_id), now=NOW)
    with pytest.raises(DekDestroyed):
        list(other.export(subject=alice))


def test_an_address_grant_has_its_own_dek_and_goes_with_the_erased_identity(
        sessions: sessionmaker[Session]) -> None:
    ring = _replica()
    with sessions.begin() as s:
        ident, _ = get_or_create_identity(s, ring, "whatsapp", "+15550001111", now=NOW)
        person = AdminPerson(id="c" * 32, created_at=NOW)
        s.add(person)
        s.flush()
        grant = ClinicAdmin(id="d" * 32, platform="whatsapp", identity_id=ident.id,
                            person_id=person.id, added_by=None, added_at=NOW)
        s.add(grant)
        ClinicAdmin.ADDRESS.store(grant, ring, "+15550001111", session=s, now=NOW)
        identity_id = ident.id
    with sessions() as s:
        row = s.get(ClinicAdmin, "d" * 32)
        assert row is not None and row.address is not None and row.dek_id is not None
        dek = s.get(Dek, row.dek_id)
        assert dek is not None and (dek.purpose, dek.person_id) == ("admin-grant", "d" * 32)
        stolen = row.address
        assert ClinicAdmin.ADDRESS.reveal(row, _replica()) == "+15550001111"
    with sessions.begin() as s:
        assert erase_identity(s, identity_id, now=NOW)
    with sessions.begin() as s:
        row = s.get(ClinicAdmin, "d" * 32)
        assert row is not None and row.address is None and row.address_bidx is None
        dek = s.get(Dek, str(row.dek_id))
        assert dek is not None and dek.wrapped is None and dek.destroyed_at is not None
        row.address = stolen  # a copy put back (a stale replica, an old row) does not open
        with pytest.raises(DekDestroyed):
            ClinicAdmin.ADDRESS.reveal(row, _replica())


def test_a_subject_key_value_is_the_one_it_was(engine: Engine) -> None:
    """The sealed plaintext is the base64 subject key, as under the keyring: the audit
    log's format is unchanged; only what seals it moved."""
    ring = _replica()
    log = AuditLog(engine, ring, clock=FixedClock(NOW))
    bob = log.pseudonym("patient", "bob")
    log.append(bob, Action.RELAY_ACCEPTED, bob, {"n": 1})
    with Session(engine) as s:
        row = s.get(AuditSubjectKey, bob)
        assert row is not None
        key = AuditSubjectKey.KEY.reveal(row, _replica())
        assert key is not None and len(base64.b64decode(key)) == 32
        secret = s.get(AuditSecret, "pseudonym")
        assert secret is not None and AuditSecret.VALUE.reveal(secret, _replica())
