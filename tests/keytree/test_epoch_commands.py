"""``keys close-epoch`` and ``keys rewrap-deks`` as an operator runs them: a real process,
killed with SIGKILL half-way through the rewrap, then finished by running again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import deks, index_keys, kek_epochs
from medcrypt.storage.db import make_engine, session_factory
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.keytree import Dek
from medcrypt.storage.repos.identities import (
    find_identity,
    get_or_create_identity,
    reveal_address,
)
from tests.support.databases import migrated
from tests.support.operator_cli import ROOT, operator_env, run_bot
from tests.support.storage import KEYS_V1, KEYS_V2, NOW

PEOPLE = 12
#: Purpose DEKs beside the people: enough batches of one that the kill lands mid-way.
EXTRA_DEKS = 400


def _database(tmp_path: Path) -> tuple[str, list[str]]:
    url = migrated(f"sqlite:///{tmp_path / 'epochs.db'}")
    ring = Keyring.from_env_value(KEYS_V1)
    engine = make_engine(url)
    people = []
    try:
        with session_factory(engine).begin() as s:
            for i in range(PEOPLE):
                ident, _ = get_or_create_identity(s, ring, "telegram", str(20_000_000 + i),
                                                  now=NOW)
                people.append(ident.id)
            tree = deks.tree_of(ring)
            for _ in range(EXTRA_DEKS):
                deks.create_dek(s, tree, purpose="test", person_id=None, now=NOW)
    finally:
        engine.dispose()
    return url, people


def _on_new_kek(url: str) -> tuple[int, int]:
    """(live DEKs on the newest KEK, live DEKs in all)."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            state = kek_epochs.status(s, "env")
            total = s.scalar(select(func.count()).select_from(Dek)
                             .where(Dek.destroyed_at.is_(None))) or 0
            return (state.keks[0].live_deks if len(state.keks) > 1 else 0), int(total)
    finally:
        engine.dispose()


def test_close_epoch_killed_mid_rewrap_is_finished_by_the_next_run(tmp_path: Path) -> None:
    url, people = _database(tmp_path)
    env = operator_env(MEDCRYPT_DATABASE_URL=url, MEDCRYPT_SERVER_KEYS=KEYS_V2)
    env.pop("MEDCRYPT_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "medcrypt.bot", "keys", "close-epoch", "--batch-size", "1"],
        env={**env, "PYTHONPATH": str(ROOT)}, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        moved = 0
        while time.monotonic() < deadline and proc.poll() is None:
            moved, total = _on_new_kek(url)
            if moved >= 20:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the close finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    moved, total = _on_new_kek(url)
    # really cut off half-way (and the epoch's blind-index key is a DEK too)
    assert 20 <= moved < total == PEOPLE + EXTRA_DEKS + 1

    # The next run opens no second epoch: it resumes the rewrap and finishes the close.
    ran = run_bot("keys", "close-epoch", "--batch-size", "200", env=env, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert f"{total - moved} DEK(s) rewrapped, 1 KEK(s) retired" in ran.stdout
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            state = kek_epochs.status(s, "env")
            assert len(state.keks) == 1 and state.retired == 1
            assert state.keks[0].root_version == 2 and state.keks[0].live_deks == total
        only_v2 = Keyring.from_env_value(KEYS_V2.split(",")[0])
        with session_factory(engine)() as s:
            for i, person in enumerate(people):
                row = s.get(PlatformIdentity, person)
                assert row is not None
                assert reveal_address(row, only_v2) == str(20_000_000 + i)
    finally:
        engine.dispose()
    # Nothing left to do: rewrap-deks says so and exits 0.
    again = run_bot("keys", "rewrap-deks", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "rewrapped 0 DEK(s)" in again.stdout
    assert "0 DEK(s) or index(es) left" in again.stdout


INDEXED = 300


def _under(url: str, prefix: bytes) -> int:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            return sum(1 for b in s.scalars(select(PlatformIdentity.address_bidx))
                       if b is not None and not bytes(b).startswith(prefix))
    finally:
        engine.dispose()


def test_close_epoch_killed_mid_reindex_is_finished_by_the_next_run(tmp_path: Path) -> None:
    """The blind-index recompute (ADR 0039, Amendment 1) is batched and resumable too."""
    url = migrated(f"sqlite:///{tmp_path / 'reindex.db'}")
    ring = Keyring.from_env_value(KEYS_V1)
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as s:
            for i in range(INDEXED):
                get_or_create_identity(s, ring, "telegram", str(30_000_000 + i), now=NOW)
        with session_factory(engine)() as s:
            (old,) = index_keys.live_keys(s, deks.tree_of(ring))
    finally:
        engine.dispose()
    env = operator_env(MEDCRYPT_DATABASE_URL=url, MEDCRYPT_SERVER_KEYS=KEYS_V2)
    env.pop("MEDCRYPT_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "medcrypt.bot", "keys", "close-epoch", "--batch-size", "1"],
        env={**env, "PYTHONPATH": str(ROOT)}, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if _under(url, old.prefix) >= 20:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the close finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    moved = _under(url, old.prefix)
    assert 20 <= moved < INDEXED  # really cut off half-way

    ran = run_bot("keys", "close-epoch", "--batch-size", "100", env=env, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert f"{INDEXED - moved} blind index(es) recomputed" in ran.stdout
    engine = make_engine(url)
    only_v2 = Keyring.from_env_value(KEYS_V2.split(",")[0])
    try:
        with session_factory(engine)() as s:
            assert s.get(Dek, old.dek_id).wrapped is None  # type: ignore[union-attr]
            (new,) = index_keys.live_keys(s, deks.tree_of(only_v2))
            for i in range(INDEXED):
                found = find_identity(s, only_v2, "telegram", str(30_000_000 + i))
                assert found is not None and found.address_bidx is not None
                assert bytes(found.address_bidx).startswith(new.prefix)
    finally:
        engine.dispose()
