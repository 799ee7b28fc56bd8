"""The ``key_epoch`` job: the shred epoch closes when it is due, not before, and a close
the bot's credentials cannot do is reported without changing anything."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from medcrypt.bot.app.wiring import build_services
from medcrypt.bot.domain.config import parse_settings
from medcrypt.bot.domain.lifecycle.runs import last_runs, run_job
from medcrypt.bot.domain.services import Services
from medcrypt.crypto.clock import FixedClock
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import kek_epochs
from medcrypt.storage.db import make_engine
from medcrypt.storage.repos.identities import get_or_create_identity
from tests.support.databases import migrated
from tests.support.jobs import SIGNING_ENV
from tests.support.storage import KEYS_V1, KEYS_V2, NOW

DAY = timedelta(days=1)


def _ctx(url: str, keys: str, *, epoch_days: int = 30) -> Services:
    settings = parse_settings({"keys": {"shred_epoch_days": epoch_days}})
    return build_services(settings, FixedClock(NOW), engine=make_engine(url),
                          keyring=Keyring.from_env_value(keys), environ=SIGNING_ENV)


def test_the_epoch_closes_when_due_and_only_then(tmp_path: Path) -> None:
    url = migrated(f"sqlite:///{tmp_path / 'jobs.db'}")
    old = _ctx(url, KEYS_V1, epoch_days=7)
    try:
        with old.sessions.begin() as s:
            for i in range(3):
                get_or_create_identity(s, old.keyring, "telegram", str(30_000_000 + i),
                                       now=NOW)
        early = run_job(old, "key_epoch", trigger="manual", now=NOW + 5 * DAY)
        assert early.summary == {"due": 0, "kek_age_days": 5}
        # due (day 6 + the daily check's slack reaches day 7), but env has no newer key
        blocked = run_job(old, "key_epoch", trigger="manual", now=NOW + 6 * DAY)
        assert blocked.summary == {"due": 1, "needs_operator": 1, "kek_age_days": 6}
    finally:
        old.engine.dispose()
    new = _ctx(url, KEYS_V2, epoch_days=7)
    try:
        done = run_job(new, "key_epoch", trigger="manual", now=NOW + 6 * DAY)
        assert done.outcome == "ok"
        assert done.summary["opened"] == 1 and done.summary["rewrapped"] == 3
        assert done.summary["retired_keks"] == 1 and done.summary["root_version"] == 2
        assert done.summary["removable_env_versions"] == 1
        assert last_runs(new)["key_epoch"].summary == done.summary
        with new.sessions() as s:
            state = kek_epochs.status(s, "env")
        assert len(state.keks) == 1 and state.keks[0].created_at == NOW + 6 * DAY
        # the new epoch is young: the next day's check does nothing
        assert run_job(new, "key_epoch", trigger="manual", now=NOW + 7 * DAY).summary == {
            "due": 0, "kek_age_days": 1}
    finally:
        new.engine.dispose()
