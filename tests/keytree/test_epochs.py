"""Shred epochs on the ``env`` provider: closing one rewraps every live DEK under a new
KEK (wrapped under a newer server key), retires the old KEK, and leaves a copy of the
old rows unopenable once the old server key is gone.

The attack test comes first: a DEK destroyed while a close is rewrapping must not come
back to life under the new KEK.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from medcrypt.crypto.errors import DecryptionFailed, KeyVersionMissing
from medcrypt.crypto.server import keytree as kt
from medcrypt.crypto.server.env_provider import EnvProvider
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import deks, kek_epochs
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.keytree import Dek, Kek
from medcrypt.storage.repos.identities import (
    erase_identity,
    get_or_create_identity,
    reveal_address,
)
from tests.support.storage import KEYS_V1, KEYS_V2, NOW

LATER = NOW + timedelta(days=30)


def _people(sessions: sessionmaker[Session], ring: Keyring, n: int) -> list[str]:
    ids = []
    with sessions.begin() as s:
        for i in range(n):
            ident, _ = get_or_create_identity(s, ring, "whatsapp", f"+1555123{i:04d}", now=NOW)
            ids.append(ident.id)
    return ids


def _address(sessions: sessionmaker[Session], ring: Keyring, person: str) -> str:
    with sessions() as s:
        row = s.get(PlatformIdentity, person)
        assert row is not None
        return reveal_address(row, ring)


def test_a_dek_destroyed_during_the_rewrap_stays_destroyed(
        sessions: sessionmaker[Session]) -> None:
    v1 = Keyring.from_env_value(KEYS_V1)
    alice, bob = _people(sessions, v1, 2)
    v2 = Keyring.from_env_value(KEYS_V2)
    tree = deks.tree_of(v2)
    kek_epochs.open_next(sessions, tree, None, now=LATER, report=kek_epochs.CloseReport())
    with sessions() as s:  # the close reads its batch ...
        state = kek_epochs.status(s, "env")
        rows = kek_epochs._batch(s, [state.keks[1].kek_id], 10)
        to = deks.kek_row(s, state.keks[0].kek_id)
    assert len(rows) == 3  # alice, bob and the epoch's blind-index DEK
    with sessions.begin() as s:  # ... alice is erased before it writes ...
        assert erase_identity(s, alice, now=LATER)
    with sessions.begin() as s:  # ... and the write must not bring her DEK back
        assert kek_epochs.rewrap_rows(s, tree, rows, to_kek=to) == 2
    with sessions() as s:
        mine = s.scalars(select(Dek).where(Dek.person_id == alice)).one()
        assert mine.wrapped is None and mine.destroyed_at is not None
        assert mine.kek_id == state.keks[1].kek_id
        theirs = s.scalars(select(Dek).where(Dek.person_id == bob)).one()
        assert theirs.kek_id == state.keks[0].kek_id
    assert _address(sessions, v2, bob) == "+15551230001"


def test_env_refuses_to_close_without_a_newer_server_key(
        sessions: sessionmaker[Session]) -> None:
    v1 = Keyring.from_env_value(KEYS_V1)
    _people(sessions, v1, 1)
    with pytest.raises(kek_epochs.NeedsOperator, match="keys generate"):
        kek_epochs.close_epoch(sessions, deks.tree_of(v1), None, now=LATER)
    with sessions() as s:
        assert len(kek_epochs.status(s, "env").keks) == 1


def test_closing_moves_every_live_dek_and_retires_the_old_kek(
        sessions: sessionmaker[Session]) -> None:
    v1 = Keyring.from_env_value(KEYS_V1)
    people = _people(sessions, v1, 7)
    with sessions.begin() as s:
        erase_identity(s, people[0], now=NOW)
    with sessions() as s:
        old = kek_epochs.status(s, "env").keks[0]
    # six people and the epoch's blind-index DEK
    assert old.root_version == 1 and old.live_deks == 7

    v2 = Keyring.from_env_value(KEYS_V2)
    seen: list[tuple[int, int]] = []
    report = kek_epochs.close_epoch(sessions, deks.tree_of(v2), None, now=LATER, batch=4,
                                    progress=lambda d, t: seen.append((d, t)))
    assert report.opened and report.rewrapped == 6 and report.retired == 1
    assert seen[0] == (0, 6) and seen[-1] == (6, 6) and len(seen) == 3
    # env cannot destroy a server key: it names the version for the operator to remove
    assert report.removable_env_versions == [1] and report.destroyed_versions == []
    # two provider calls: the new KEK's wrap and one unwrap of the old KEK (not per DEK)
    assert report.provider_calls == 2
    with sessions() as s:
        state = kek_epochs.status(s, "env")
        assert [k.root_version for k in state.keks] == [2] and state.retired == 1
        # six people and the new epoch's blind-index DEK (the old one was destroyed,
        # not rewrapped)
        assert state.keks[0].live_deks == 7 and state.pending == 0
        assert report.reindexed == 6 and report.index_keys_destroyed == 1
        retired = s.get(Kek, old.kek_id)
        assert retired is not None and retired.retired_at == LATER
        assert retired.wrapped == b""
        # the erased person's destroyed DEK stays on the retired KEK, destroyed
        gone = s.scalars(select(Dek).where(Dek.person_id == people[0])).one()
        assert gone.kek_id == old.kek_id and gone.wrapped is None
    # a fresh replica that only knows server key 2 opens every live person
    only_v2 = Keyring.from_env_value(KEYS_V2.split(",")[0])
    for i, person in enumerate(people[1:], start=1):
        assert _address(sessions, only_v2, person) == f"+1555123{i:04d}"
    # closing again without a newer key is refused; nothing is half-done
    with pytest.raises(kek_epochs.NeedsOperator):
        kek_epochs.close_epoch(sessions, deks.tree_of(v2), None, now=LATER)


def test_a_copy_of_the_old_rows_does_not_open_once_the_old_server_key_is_gone(
        sessions: sessionmaker[Session]) -> None:
    """The storage half of the backup proof: the copy holds the old KEK and the erased
    person's wrapped DEK; the keys left after the close open neither."""
    v1 = Keyring.from_env_value(KEYS_V1)
    (person,) = _people(sessions, v1, 1)
    with sessions() as s:  # "the backup"
        dek = s.scalars(select(Dek).where(Dek.person_id == person)).one()
        kek = s.get(Kek, dek.kek_id)
        assert kek is not None and dek.wrapped is not None
        copy = (kek.id, bytes(kek.wrapped), dek.id, dek.version, bytes(dek.wrapped))
    with sessions.begin() as s:
        erase_identity(s, person, now=NOW)
    v2 = Keyring.from_env_value(KEYS_V2)
    kek_epochs.close_epoch(sessions, deks.tree_of(v2), None, now=LATER)
    kek_id, kek_wrapped, dek_id, version, dek_wrapped = copy
    # Before the operator removes key 1, the copy still opens: this is why the epoch
    # must close *and* the old root version must go.
    with_v1 = EnvProvider(v2.master_keys(), None)
    opened = with_v1.unwrap(kek_wrapped, kt.kek_context(kek_id))
    assert len(kt.unwrap_dek(opened, dek_wrapped, purpose="identity", person_id=person,
                             dek_id=dek_id, version=version, kek_id=kek_id)) == 32
    # After: every key the provider still holds is tried, and none opens the copy.
    left = EnvProvider(Keyring.from_env_value(KEYS_V2.split(",")[0]).master_keys(), None)
    with pytest.raises(KeyVersionMissing):
        left.unwrap(kek_wrapped, kt.kek_context(kek_id))
    with sessions() as s:
        live = kek_epochs.status(s, "env").keks[0]
        new_kek = left.unwrap(deks.kek_row(s, live.kek_id)[1], kt.kek_context(live.kek_id))
    with pytest.raises(DecryptionFailed):
        kt.unwrap_dek(new_kek, dek_wrapped, purpose="identity", person_id=person,
                      dek_id=dek_id, version=version, kek_id=kek_id)


def test_due_after_the_epoch_length_or_while_a_close_is_unfinished(
        sessions: sessionmaker[Session]) -> None:
    v1 = Keyring.from_env_value(KEYS_V1)
    _people(sessions, v1, 1)
    day = timedelta(days=1)
    with sessions() as s:
        state = kek_epochs.status(s, "env")
    assert not state.due(NOW + 28 * day, 30, slack=day)
    assert state.due(NOW + 29 * day, 30, slack=day)
    v2 = Keyring.from_env_value(KEYS_V2)
    kek_epochs.open_next(sessions, deks.tree_of(v2), None, now=NOW + day,
                         report=kek_epochs.CloseReport())
    with sessions() as s:
        state = kek_epochs.status(s, "env")
    # the person's DEK and the old epoch's blind-index DEK
    assert state.pending == 2 and state.due(NOW + day, 30, slack=day)


def test_a_close_whose_clock_stands_still_still_makes_the_new_kek_current(
        sessions: sessionmaker[Session]) -> None:
    """``jobs run --now`` can set the clock back: the new KEK must still be the newest,
    or the close would retire it (empty) and leave every DEK on the old one."""
    v1 = Keyring.from_env_value(KEYS_V1)
    _people(sessions, v1, 3)
    v2 = Keyring.from_env_value(KEYS_V2)
    report = kek_epochs.close_epoch(sessions, deks.tree_of(v2), None,
                                    now=NOW - timedelta(days=1))
    assert report.rewrapped == 3 and report.retired == 1
    with sessions() as s:
        state = kek_epochs.status(s, "env")
    # three people and the new epoch's blind-index DEK (the old one is destroyed)
    assert [k.root_version for k in state.keks] == [2] and state.keks[0].live_deks == 4
