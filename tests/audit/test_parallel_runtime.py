"""The parallel verify's plumbing: progress, worker failures, --jobs, the small-log path."""

from __future__ import annotations

import base64
import itertools
from pathlib import Path

import pytest
from sqlalchemy import Engine

from medcrypt.bot.cli import main
from medcrypt.crypto.errors import StorageError
from medcrypt.storage.audit import AuditLog, default_jobs
from medcrypt.storage.audit import parallel as _audit_parallel_mod
from medcrypt.storage.audit.parallel import plan_slices, run_workers
from medcrypt.storage.audit.worker import SliceTask
from tests.support.audit import SERVER_KEY, SIGNING_SEED, fill
from tests.support.databases import migrated


def test_progress_reaches_the_total_and_reports_match(audit_log: AuditLog,
                                                      public_keys: dict) -> None:
    fill(audit_log, 2_000)
    seen: list[int] = []
    report = audit_log.verify(public_keys, jobs=2, parallel_from=1, progress=seen.append)
    assert seen and seen[-1] == report.entries and seen == sorted(seen)
    assert report == audit_log.verify(public_keys, jobs=1)


def test_small_logs_stay_in_process(audit_log: AuditLog, public_keys: dict,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    fill(audit_log, 300)

    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError("workers started for a small log")

    monkeypatch.setattr(_audit_parallel_mod, "verify_parallel", refuse)
    assert audit_log.verify(public_keys, jobs=4).entries >= 300  # parallel_from default
    with pytest.raises(ValueError, match="jobs"):
        audit_log.verify(public_keys, jobs=0)
    assert 1 <= default_jobs() <= 4


def test_slices_cover_the_range_without_overlap(audit_log: AuditLog,
                                                audit_engine: Engine) -> None:
    fill(audit_log, 1_000)
    with audit_engine.connect() as conn:
        assert plan_slices(conn, 1, 1) is None
        assert plan_slices(conn, 3, 10_000) is None
        slices = plan_slices(conn, 3, 1)
    head = audit_log.head().seq
    assert slices is not None and slices[0][0] == 0 and slices[-1][1] == head
    assert all(a[1] == b[0] for a, b in itertools.pairwise(slices))


def test_a_failing_worker_is_one_storage_error(tmp_path: Path) -> None:
    task = SliceTask("sqlite", str(tmp_path / "missing.db"), "SELECT 1", [], 100)
    with pytest.raises(StorageError, match="worker failed"):
        run_workers([task], None)


def test_cli_jobs_option(sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    migrated(sqlite_url)
    monkeypatch.setenv("MEDCRYPT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("MEDCRYPT_SERVER_KEYS", f"1:{base64.b64encode(SERVER_KEY).decode()}")
    monkeypatch.setenv("MEDCRYPT_AUDIT_SIGNING_KEY", base64.b64encode(SIGNING_SEED).decode())
    monkeypatch.delenv("MEDCRYPT_CONFIG", raising=False)
    assert main(["audit", "verify", "--jobs", "2"]) == 0
    assert "Audit log OK" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["audit", "verify", "--jobs", "0"])


def test_appends_during_a_parallel_verify_are_not_read(
    audit_log: AuditLog, public_keys: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries appended after the parent's snapshot, before the workers read, are not
    seen: PostgreSQL workers share the exported snapshot, SQLite slices stop at the
    parent's max(seq). Either way the verdict is the snapshot's, not a false break."""
    fill(audit_log, 1_500)
    before = audit_log.verify(public_keys, jobs=1)
    real = _audit_parallel_mod.run_workers

    def append_first(*args: object, **kwargs: object) -> object:
        fill(audit_log, 300)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_audit_parallel_mod, "run_workers", append_first)
    assert audit_log.verify(public_keys, jobs=3, parallel_from=1) == before
    monkeypatch.undo()
    after = audit_log.verify(public_keys, jobs=3, parallel_from=1)
    assert after.head_seq >= before.head_seq + 300
