"""From an old database: every other sealed column, written under the v1 keyring format
at 0022, still opens after 0023, and ``keys rewrap`` converts each to its DEK (purpose
DEKs for break-glass reasons and the audit log's keys, a DEK per address grant) without
losing or changing a value; a second run is a no-op and the downgrade is refused."""

from __future__ import annotations

import base64
import os

import pytest
from sqlalchemy import text

from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.server import keytree as kt
from medcrypt.crypto.server.audit import pseudonym
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import migrate
from medcrypt.storage.audit import AuditLog
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.keys import count_stale, rewrap
from medcrypt.storage.models.admins import ClinicAdmin
from medcrypt.storage.repos.breakglass import reveal_reason
from tests.support.storage import KEYS_V1, NOW

PSEUDONYM_KEY = os.urandom(32)
SUBJECTS = {f"patient:{i:024x}": os.urandom(32) for i in range(1, 6)}
REASONS = {f"{i:010x}": f"reason {i}" for i in range(1, 4)}
GRANTS = {f"{i:032x}": f"+1555000{i:04d}" for i in range(1, 3)}
PERSON = "e" * 32


def _old_rows(url: str, ring: Keyring) -> None:
    """Rows exactly as 0022's code wrote them: v1 keyring values, no DEK columns."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO audit_secrets (name, wrapped, created_us) "
                              "VALUES ('pseudonym', :w, 1)"), {"w": ring.seal(
                base64.b64encode(PSEUDONYM_KEY), ("audit_secrets", "wrapped", "pseudonym"))})
            for ref, key in SUBJECTS.items():
                conn.execute(text("INSERT INTO audit_subject_keys (subject_ref, wrapped, "
                                  "created_us) VALUES (:r, :w, 1)"), {"r": ref, "w": ring.seal(
                    base64.b64encode(key), ("audit_subject_keys", "wrapped", ref))})
            for i, (code, reason) in enumerate(REASONS.items()):
                row_id = f"{i + 1:032x}"
                conn.execute(text(
                    "INSERT INTO breakglass_requests (id, code, pairing_id, requester_id, "
                    "status, reason, requested_at, expires_at) VALUES (:id, :code, :p, :r, "
                    "'pending', :reason, :t, :t)"), {
                    "id": row_id, "code": code, "p": b"\x02" * 16, "r": "f" * 32, "t": NOW,
                    "reason": ring.seal(reason.encode(),
                                        ("breakglass_requests", "reason", row_id))})
            conn.execute(text("INSERT INTO admin_persons (id, created_at) VALUES (:id, :t)"),
                         {"id": PERSON, "t": NOW})
            for row_id, phone in GRANTS.items():
                conn.execute(text(
                    "INSERT INTO clinic_admins (id, platform, address, address_bidx, "
                    "person_id, added_at) VALUES (:id, 'whatsapp', :a, :b, :p, :t)"), {
                    "id": row_id, "p": PERSON, "t": NOW,
                    "a": ring.seal(phone.encode(), ("clinic_admins", "address", row_id)),
                    "b": ring.blind_index("clinic_admins", "address", phone)})
    finally:
        engine.dispose()


def _check_values(url: str, ring: Keyring) -> None:
    """Every value opens for a replica with nothing cached: the same plaintexts."""
    engine = make_engine(url)
    sessions = session_factory(engine)
    try:
        log = AuditLog(engine, ring, clock=FixedClock(NOW))
        assert log.pseudonym("patient", "x") == pseudonym(PSEUDONYM_KEY, "patient", "x")
        with engine.connect() as conn:
            found = log._load_subject_keys(conn, set(SUBJECTS))
        assert found == SUBJECTS
        with sessions() as s:
            for code, reason in REASONS.items():
                assert reveal_reason(s, ring, code) == reason
            for row_id, phone in GRANTS.items():
                grant = s.get(ClinicAdmin, row_id)
                assert grant is not None and ClinicAdmin.ADDRESS.reveal(grant, ring) == phone
    finally:
        engine.dispose()


@pytest.mark.parametrize("batch", [2, 500])
def test_an_old_database_upgrades_and_converts(database_url: str, batch: int) -> None:
    ring = Keyring.from_env_value(KEYS_V1)
    migrate.upgrade(database_url, "0022_send_pacing")
    _old_rows(database_url, ring)
    migrate.upgrade(database_url)
    _check_values(database_url, Keyring.from_env_value(KEYS_V1))  # v1 values still open
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    try:
        with sessions() as s:
            stale = count_stale(s, ring)
        assert stale[("audit_subject_keys", "wrapped")] == len(SUBJECTS)
        assert stale[("audit_secrets", "wrapped")] == 1
        assert stale[("breakglass_requests", "reason")] == len(REASONS)
        assert stale[("clinic_admins", "address")] == len(GRANTS)
        converted = len(SUBJECTS) + 1 + len(REASONS) + len(GRANTS)
        assert rewrap(sessions, ring, batch_size=batch) == converted
        assert rewrap(sessions, ring) == 0  # resumable, and a finished run is a no-op
        with sessions() as s:
            assert sum(count_stale(s, ring).values()) == 0
            rows = s.execute(text(
                "SELECT t.wrapped, t.dek_id, t.dek_version, d.purpose, d.person_id "
                "FROM audit_subject_keys t JOIN deks d ON d.id = t.dek_id "
                "UNION ALL SELECT t.wrapped, t.dek_id, t.dek_version, d.purpose, d.person_id "
                "FROM audit_secrets t JOIN deks d ON d.id = t.dek_id "
                "UNION ALL SELECT t.reason, t.dek_id, t.dek_version, d.purpose, d.person_id "
                "FROM breakglass_requests t JOIN deks d ON d.id = t.dek_id "
                "UNION ALL SELECT t.address, t.dek_id, t.dek_version, d.purpose, d.person_id "
                "FROM clinic_admins t JOIN deks d ON d.id = t.dek_id")).all()
            assert len(rows) == converted  # every row references its DEK by foreign key
            for value, dek_id, version, _purpose, _person in rows:
                assert kt.sealed_dek(bytes(value)) == kt.DekRef(dek_id, version)
            purposes = sorted((p, person) for *_, p, person in rows)
            assert purposes == sorted(
                [("audit-subject", None)] * len(SUBJECTS) + [("audit-secret", None)]
                + [("breakglass", None)] * len(REASONS)
                + [("admin-grant", row_id) for row_id in GRANTS])
            assert s.execute(text("SELECT count(*) FROM deks WHERE person_id IS NULL")
                             ).scalar_one() == 4  # one DEK per purpose, blind-index too
        _check_values(database_url, Keyring.from_env_value(KEYS_V1))
        with pytest.raises(RuntimeError, match="would strand them"):
            migrate.downgrade(database_url, "0022_send_pacing")
    finally:
        engine.dispose()


def test_downgrade_before_conversion_drops_the_columns(database_url: str) -> None:
    ring = Keyring.from_env_value(KEYS_V1)
    migrate.upgrade(database_url, "0022_send_pacing")
    _old_rows(database_url, ring)
    migrate.upgrade(database_url)
    migrate.downgrade(database_url, "0022_send_pacing")
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_subject_keys")
                                ).scalar_one() == len(SUBJECTS)
    finally:
        engine.dispose()
    migrate.upgrade(database_url)
    _check_values(database_url, ring)
