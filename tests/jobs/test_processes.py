"""Real processes: two concurrent rotations, a sweep killed with SIGKILL, the CLI itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from medcrypt.bot.cli import main as cli_main
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.keyless.epochs import epoch_of, grace_end
from medcrypt.crypto.server.audit import Action
from medcrypt.storage.models.audit import AuditEntry
from medcrypt.storage.models.epochs import Epoch
from medcrypt.storage.models.outbox import OutboxMessage
from medcrypt.storage.models.tokens import StoredToken
from tests.support.jobs import KEYS, SIGNING_ENV, context
from tests.support.seed import seed

ROOT = Path(__file__).resolve().parents[2]
E = epoch_of(datetime(2026, 10, 1, tzinfo=UTC))


def _env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"MEDCRYPT_DATABASE_URL": url, "MEDCRYPT_SERVER_KEYS": KEYS, **SIGNING_ENV})
    env.pop("MEDCRYPT_CONFIG", None)
    return env


def _jobs(url: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "medcrypt.bot", "jobs", "run", *args],
                            cwd=ROOT, env=_env(url), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _audit_count(s, action: Action) -> int:  # type: ignore[no-untyped-def]
    return int(s.scalar(select(func.count()).select_from(AuditEntry)
                        .where(AuditEntry.action == action.value)) or 0)


@pytest.mark.slow
def test_two_processes_rotating_at_once_create_one_epoch_and_notice(database_url: str) -> None:
    n = 2000
    clock = FixedClock(datetime(2026, 10, 2, tzinfo=UTC))
    with context(database_url, clock) as ctx:
        seed(ctx.engine, n, E)
        ctx.warm()  # create the pseudonym secret once, before the race
        procs = [_jobs(database_url, "rotate", "--now", "2026-11-01T00:00:00Z",
                       "--batch", "100") for _ in range(2)]
        created = 0
        codes = []
        for proc in procs:
            out, err = proc.communicate(timeout=240)
            codes.append(proc.returncode)
            if proc.returncode == 4:  # the job's lock: one rotation at a time (issue 18)
                assert "job rotation is already running" in err.decode()
                continue
            assert proc.returncode == 0, err.decode()
            created += int(out.decode().split("epochs_created=")[1].split(",")[0])
        assert 0 in codes
        assert created == n  # never doubled: refused, or found the work done
        with ctx.sessions() as s:
            per = s.execute(select(Epoch.pairing_id, func.count()).where(Epoch.epoch == E + 1)
                            .group_by(Epoch.pairing_id)).all()
            assert len(per) == n and {c for _p, c in per} == {1}
            assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 2 * n
            dupes = s.execute(select(OutboxMessage.dest_identity_id, func.count())
                              .group_by(OutboxMessage.dest_identity_id)
                              .having(func.count() > 1)).all()
            assert dupes == []
            assert _audit_count(s, Action.EPOCH_ROTATED) == n
            assert _audit_count(s, Action.EPOCH_RETIRED) == n
        # Raises AuditChainBroken if the chain forked or a stretch went unsigned.
        assert ctx.audit.verify(ctx.audit_public_keys).entries >= n


@pytest.mark.slow
def test_sweep_killed_mid_run_leaves_nothing_half_deleted(database_url: str) -> None:
    n, k = 3000, 4
    clock = FixedClock(datetime(2026, 10, 2, tzinfo=UTC))
    when = grace_end(E, 7).isoformat()
    with context(database_url, clock) as ctx:
        seed(ctx.engine, n, E, tokens_per_pairing=k, escrow=True, state="retired")
        ctx.warm()
        proc = _jobs(database_url, "shred", "--now", when, "--batch", "25")
        killed_at = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            with ctx.sessions() as s:
                done = int(s.scalar(select(func.count()).select_from(Epoch)
                                    .where(Epoch.state == "shredded")) or 0)
            if 0 < done < n // 2:
                proc.send_signal(signal.SIGKILL)
                killed_at = done
                break
            time.sleep(0.01)
        proc.wait(timeout=30)
        assert killed_at is not None, "the sweep finished before it could be killed"
        assert proc.returncode == -signal.SIGKILL
        with ctx.sessions() as s:
            states = dict(s.execute(select(Epoch.pairing_id, Epoch.state)).all())
            tokens = dict(s.execute(select(StoredToken.pairing_id, func.count())
                                    .group_by(StoredToken.pairing_id)).all())
            shredded = [p for p, st in states.items() if st == "shredded"]
            assert 0 < len(shredded) < n
            for pid, st in states.items():  # all or nothing, per epoch
                assert tokens.get(pid, 0) == (0 if st == "shredded" else k), pid
            assert _audit_count(s, Action.EPOCH_SHREDDED) == len(shredded)
        rerun = _jobs(database_url, "shred", "--now", when)
        out, err = rerun.communicate(timeout=240)
        assert rerun.returncode == 0, err.decode()
        assert f"epochs_shredded={n - len(shredded)}" in out.decode()
        with ctx.sessions() as s:
            assert s.scalar(select(func.count()).select_from(StoredToken)) == 0
            assert {st for st in s.scalars(select(Epoch.state))} == {"shredded"}
            assert _audit_count(s, Action.EPOCH_SHREDDED) == n
            assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 2 * n
        # Raises AuditChainBroken if the chain forked or a stretch went unsigned.
        assert ctx.audit.verify(ctx.audit_public_keys).entries >= n


def test_cli_run_and_list(sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    clock = FixedClock(datetime(2026, 10, 2, tzinfo=UTC))
    with context(sqlite_url, clock) as ctx:
        seed(ctx.engine, 3, E)
    for key, value in _env(sqlite_url).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MEDCRYPT_CONFIG", raising=False)
    assert cli_main(["jobs", "run", "rotate", "--now", "2026-11-01T00:00:00Z"]) == 0
    assert "epochs_created=3" in capsys.readouterr().out
    assert cli_main(["jobs", "run", "shred", "--now", "2026-11-08T00:00:00+00:00"]) == 0
    assert "epochs_shredded=3" in capsys.readouterr().out
    assert cli_main(["jobs", "list"]) == 0
    listing = capsys.readouterr().out
    assert "rotation:" in listing and "shred_sweep:" in listing
    assert "started by hand (as of 2026-11-08 00:00 UTC): done" in listing
    assert "next run: " in listing and "(bot not started yet)" in listing
    with pytest.raises(SystemExit):
        cli_main(["jobs", "run", "rotate", "--now", "2026-11-01T00:00:00"])  # naive
