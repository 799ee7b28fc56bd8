"""``medcrypt-bot audit ...`` end to end, in-process, against a migrated SQLite file."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import update

from medcrypt.bot.app.wiring import open_audit_log
from medcrypt.bot.cli import main
from medcrypt.bot.domain.config import load_settings
from medcrypt.crypto.server.audit import SYSTEM_BOT, Action, CheckpointSigner
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.audit import ENTRIES, AuditEvent, AuditLog
from medcrypt.storage.db import make_engine
from tests.support.audit import SERVER_KEY, SIGNING_SEED
from tests.support.databases import migrated


@pytest.fixture
def env(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    migrated(sqlite_url)
    monkeypatch.setenv("MEDCRYPT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("MEDCRYPT_SERVER_KEYS", f"1:{base64.b64encode(SERVER_KEY).decode()}")
    monkeypatch.setenv("MEDCRYPT_AUDIT_SIGNING_KEY", base64.b64encode(SIGNING_SEED).decode())
    monkeypatch.delenv("MEDCRYPT_CONFIG", raising=False)
    return sqlite_url


def _log(url: str) -> AuditLog:
    return open_audit_log(load_settings(None), make_engine(url), keyring=Keyring({1: SERVER_KEY}))


def _populate(url: str) -> tuple[AuditLog, str, str]:
    log = _log(url)
    alice, bob = log.pseudonym("patient", "alice"), log.pseudonym("patient", "bob")
    log.append_many([AuditEvent(SYSTEM_BOT, Action.RELAY_ACCEPTED, ref, {"direction": i % 2})
                     for i, ref in enumerate([alice, bob] * 30)])
    log.checkpoint_if_due()  # the checkpointer's pass (appends never sign)
    return log, alice, bob


def test_head_verify_checkpoint_and_witness(env: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "head"]) == 0
    assert "Audit log is empty." in capsys.readouterr().out
    _populate(env)
    assert main(["audit", "checkpoint"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("MEDCRYPT-AUDIT v1 seq=")
    witness = tmp_path / "witness.txt"
    witness.write_text(f"Admins chat export\n[12:00] Bot: {line}\n", encoding="utf-8")
    assert main(["audit", "verify", "--witness", str(witness)]) == 0
    out = capsys.readouterr().out
    assert "Audit log OK" in out and "Witness lines matched: 1" in out
    assert main(["audit", "head"]) == 0
    head_out = capsys.readouterr().out
    assert line in head_out and "checkpoint public key:" in head_out

    engine = make_engine(env)
    with engine.begin() as conn:
        conn.execute(update(ENTRIES).where(ENTRIES.c.seq == 17).values(action="bot.stopped"))
    engine.dispose()
    assert main(["audit", "verify", "--witness", str(witness)]) == 7
    assert "audit chain broken at seq 17" in capsys.readouterr().err


def test_verify_with_only_a_public_key(env: str, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    _populate(env)
    public = CheckpointSigner(SIGNING_SEED).public_b64()
    monkeypatch.delenv("MEDCRYPT_AUDIT_SIGNING_KEY")
    monkeypatch.delenv("MEDCRYPT_SERVER_KEYS")
    assert main(["audit", "verify", "--public-key", public]) == 0
    assert "Audit log OK" in capsys.readouterr().out
    assert main(["audit", "verify"]) == 2  # no key at all: a config error naming the key
    assert "audit.signing_key_env" in capsys.readouterr().err
    other = CheckpointSigner(bytes(32)).public_b64()
    assert main(["audit", "verify", "--public-key", other]) == 7


def test_bad_witness_files(env: str, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    _populate(env)
    damaged = tmp_path / "w.txt"
    damaged.write_text("MEDCRYPT-AUDIT v1 seq=2 head=zz\n", encoding="utf-8")
    assert main(["audit", "verify", "--witness", str(damaged)]) == 3
    assert main(["audit", "verify", "--witness", str(tmp_path / "missing.txt")]) == 2
    empty = tmp_path / "empty.txt"
    empty.write_text("nothing here\n", encoding="utf-8")
    assert main(["audit", "verify", "--witness", str(empty)]) == 3
    capsys.readouterr()


def test_export_jsonl_csv_erased_and_accounted(env: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    log, alice, bob = _populate(env)
    log.erase_subject(alice, actor=SYSTEM_BOT)
    assert main(["audit", "export", "--subject", alice]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(rows) == 31 and all(r["details"] == "[erased]" for r in rows)
    assert {r["subject"] for r in rows} == {alice}
    out = tmp_path / "bob.csv"
    assert main(["audit", "export", "--subject", bob, "--format", "csv", "--from", "2",
                 "--to", "10", "--output", str(out)]) == 0
    table = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [int(r["seq"]) for r in table] == [2, 4, 6, 8, 10]
    assert all(json.loads(r["details"]) == {"direction": 1} for r in table)
    # Each export is itself an audit entry, filed against the subject it disclosed.
    last = list(log.export(subject=bob))[-1]
    assert last.action == Action.ADMIN_COMMAND
    assert last.details is not None and last.details["command"] == "audit_export"
    assert last.details["entries"] == 5
    assert main(["audit", "export", "--subject", "+15551234567"]) == 2
    assert main(["audit", "export", "--from", "5", "--to", "2"]) == 2
    capsys.readouterr()


def test_keygen_prints_a_usable_seed_and_its_public_key(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "keygen"]) == 0
    seed_line, public_line = capsys.readouterr().out.strip().splitlines()
    name, _, seed = seed_line.partition("=")
    assert name == "MEDCRYPT_AUDIT_SIGNING_KEY"
    signer = CheckpointSigner.from_b64(seed)
    assert public_line.endswith(signer.public_b64())
    monkeypatch.setenv("MEDCRYPT_AUDIT_SIGNING_KEY", seed)
    _populate(env)
    assert main(["audit", "checkpoint"]) == 0
    assert main(["audit", "verify", "--public-key", signer.public_b64()]) == 0
    capsys.readouterr()
