"""``backup create|verify|restore`` through the CLI, on SQLite and PostgreSQL.

Round trip: every table's rows come back as they were, the audit log verifies with
the restore entry, and a damaged or foreign backup is refused before the database is
touched. PostgreSQL needs ``MEDCRYPT_TEST_PG_URL`` (CI) and ``pg_dump``/``pg_restore``.
"""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select

from medcrypt.bot.app.wiring import open_audit_log
from medcrypt.bot.cli import main
from medcrypt.bot.domain.config import load_settings
from medcrypt.crypto.server.audit import SYSTEM_BOT, Action
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.audit import AuditEvent
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.repos.identities import get_or_create_identity
from tests.support.audit import SERVER_KEY, SIGNING_SEED
from tests.support.databases import migrated

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PHONE = "+15557654321"


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    migrated(database_url)
    monkeypatch.setenv("MEDCRYPT_DATABASE_URL", database_url)
    monkeypatch.setenv("MEDCRYPT_SERVER_KEYS", f"1:{base64.b64encode(SERVER_KEY).decode()}")
    monkeypatch.setenv("MEDCRYPT_AUDIT_SIGNING_KEY", base64.b64encode(SIGNING_SEED).decode())
    monkeypatch.delenv("MEDCRYPT_CONFIG", raising=False)
    config = tmp_path / "bot.toml"
    config.write_text(f'[backup]\nerasure_record_path = "{tmp_path / "erasures"}"\n')
    return config


def _populate(url: str, phone: str = PHONE) -> None:
    keyring = Keyring({1: SERVER_KEY})
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            get_or_create_identity(session, keyring, "whatsapp", phone, now=NOW)
        log = open_audit_log(load_settings(None), engine, keyring=keyring)
        log.append_many([AuditEvent(SYSTEM_BOT, Action.BOT_STARTED, SYSTEM_BOT, {"n": i})
                         for i in range(40)])
    finally:
        engine.dispose()


def _tables(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = make_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            return {name: sorted((tuple(r) for r in conn.execute(select(table))), key=repr)
                    for name, table in meta.tables.items()}
    finally:
        engine.dispose()


def test_create_verify_restore_round_trip(env: Path, database_url: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    _populate(database_url)
    backup = tmp_path / "b.mcbackup"
    assert main(["--config", str(env), "backup", "create", str(backup)]) == 0
    before = _tables(database_url)
    assert PHONE.encode() not in backup.read_bytes()
    assert main(["--config", str(env), "backup", "verify", str(backup)]) == 0
    assert "backup OK" in capsys.readouterr().out

    _populate(database_url, "+15550000002")  # life goes on after the backup ...
    assert main(["--config", str(env), "backup", "restore", str(backup), "--yes"]) == 0
    out = capsys.readouterr().out
    after = _tables(database_url)
    changed = {name for name in before if before[name] != after[name]}
    # ... and is gone again; only the audit tables hold the restore entry and checkpoint
    # (and the pseudonym secret, which re-applying the erasure record creates if absent,
    # with the audit log's purpose DEKs that seal them: ADR 0037, Amendment 1).
    assert changed <= {"audit_entries", "audit_checkpoints", "audit_head", "audit_subject_keys",
                       "audit_secrets", "deks"}
    assert set(before["audit_entries"]) <= set(after["audit_entries"])
    assert set(before["deks"]) <= set(after["deks"])  # added to, never lost
    assert len(after["audit_entries"]) == len(before["audit_entries"]) + 2
    assert "restore entry at seq" in out and "were lost" in out
    assert main(["--config", str(env), "audit", "verify"]) == 0
    assert "Restored from a backup" in capsys.readouterr().out


def test_damaged_or_foreign_backups_are_refused_before_any_change(
        env: Path, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _populate(database_url)
    backup = tmp_path / "b.mcbackup"
    assert main(["--config", str(env), "backup", "create", str(backup)]) == 0
    _populate(database_url)
    before = _tables(database_url)
    data = backup.read_bytes()
    damaged = tmp_path / "damaged.mcbackup"
    damaged.write_bytes(data[:len(data) // 2] + bytes([data[len(data) // 2] ^ 1])
                        + data[len(data) // 2 + 1:])
    assert main(["--config", str(env), "backup", "verify", str(damaged)]) == 3
    assert main(["--config", str(env), "backup", "restore", str(damaged), "--yes"]) == 3
    monkeypatch.setenv("MEDCRYPT_SERVER_KEYS", f"1:{base64.b64encode(os.urandom(32)).decode()}")
    assert main(["--config", str(env), "backup", "restore", str(backup), "--yes"]) == 3
    assert _tables(database_url) == before
    assert "Traceback" not in capsys.readouterr().err


def test_backups_are_refused_without_an_erasure_record(
        env: Path, database_url: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    bare = tmp_path / "bare.toml"
    bare.write_text("")
    assert main(["--config", str(bare), "backup", "create", str(tmp_path / "x")]) == 2
    assert "erasure_record_path" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
