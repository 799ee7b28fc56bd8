"""Blind indexes under the shred epoch's index DEK (ADR 0039, Amendment 1): closing an
epoch recomputes every live row's index under the new epoch's key and destroys the old
key, and nobody is lost or mixed up while it runs.

The attack test comes first: a person erased between the recompute's read and its write
must not get an index back.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from medcrypt.crypto.server import blind_index as bi
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import deks, index_keys, kek_epochs, keys, reindex
from medcrypt.storage.models.identities import PlatformIdentity
from medcrypt.storage.models.keytree import Dek
from medcrypt.storage.repos.identities import (
    erase_identity,
    find_identity,
    find_live,
    get_or_create_identity,
)
from tests.support.storage import KEYS_V1, KEYS_V2, NOW

LATER = NOW + timedelta(days=30)
ADDRESS = PlatformIdentity.ADDRESS


def _phone(i: int) -> str:
    return f"+1555124{i:04d}"


def _people(sessions: sessionmaker[Session], ring: Keyring, n: int) -> dict[str, str]:
    found = {}
    with sessions.begin() as s:
        for i in range(n):
            ident, _ = get_or_create_identity(s, ring, "whatsapp", _phone(i), now=NOW)
            found[_phone(i)] = ident.id
    return found


def _indexes(sessions: sessionmaker[Session]) -> dict[str, bytes | None]:
    with sessions() as s:
        return {str(i): (None if b is None else bytes(b)) for i, b in s.execute(
            select(PlatformIdentity.id, PlatformIdentity.address_bidx))}


def test_a_person_erased_during_the_recompute_gets_no_index_back(
        sessions: sessionmaker[Session]) -> None:
    v1 = Keyring.from_env_value(KEYS_V1)
    people = _people(sessions, v1, 2)
    alice, bob = people[_phone(0)], people[_phone(1)]
    tree = deks.tree_of(Keyring.from_env_value(KEYS_V2))
    kek_epochs.open_next(sessions, tree, None, now=LATER, report=kek_epochs.CloseReport())
    with sessions() as s:  # the recompute reads its batch ...
        key = index_keys.current_key(s, tree, now=LATER)
        moves, _ = reindex.plan(s, tree, PlatformIdentity, ADDRESS, key, after="", size=10)
    assert len(moves) == 2
    with sessions.begin() as s:  # ... alice is erased before it writes ...
        assert erase_identity(s, alice, now=LATER)
    with sessions.begin() as s:  # ... and the write must not index her again
        assert reindex.apply(s, PlatformIdentity, ADDRESS, moves) == 1
    now = _indexes(sessions)
    assert now[alice] is None
    assert now[bob] is not None and now[bob].startswith(key.prefix)


def test_nobody_is_lost_or_mixed_up_while_a_close_recomputes(
        sessions: sessionmaker[Session]) -> None:
    v1 = Keyring.from_env_value(KEYS_V1)
    people = _people(sessions, v1, 10)
    v2 = Keyring.from_env_value(KEYS_V2)
    tree = deks.tree_of(v2)
    with sessions() as s:
        (old_key,) = index_keys.live_keys(s, tree)
    newcomer = "+15551249999"
    seen: list[tuple[int, int, int]] = []

    def during(done: int, total: int) -> None:
        """Runs after each committed batch of the running close: every message that
        arrives now must reach the right identity."""
        with sessions.begin() as s:
            live = index_keys.live_keys(s, tree)
            moved = sum(1 for b in _indexes(sessions).values()
                        if b is not None and b.startswith(live[0].prefix))
            seen.append((done, len(live), moved))
            for phone, person in people.items():
                window = find_live(s, v2, "whatsapp", phone)
                assert window is not None and window[0] == person, phone
            ident, created = get_or_create_identity(s, v2, "whatsapp", newcomer,
                                                    now=LATER)
            if created:  # a first contact in the middle of the close
                people[newcomer] = ident.id
            else:
                assert ident.id == people[newcomer]

    report = kek_epochs.close_epoch(sessions, tree, None, now=LATER, batch=3,
                                    index_progress=during)
    assert not report.unfinished
    assert report.reindexed == 10 and report.index_keys_destroyed == 1
    # both keys were live, and rows sat under both, while the close ran
    assert any(n == 2 and 0 < moved < 11 for _, n, moved in seen), seen
    with sessions() as s:
        (new_key,) = index_keys.live_keys(s, tree)
        assert new_key.dek_id != old_key.dek_id and new_key.version == old_key.version + 1
        gone = s.get(Dek, old_key.dek_id)
        assert gone is not None and gone.wrapped is None
        assert all(b is not None and b.startswith(new_key.prefix)
                   for b in _indexes(sessions).values())
        for phone, person in people.items():
            found = find_identity(s, v2, "whatsapp", phone)
            assert found is not None and found.id == person
        assert reindex.pending(s) == 0


def test_a_row_that_raced_the_pass_keeps_the_old_key_until_the_next_run(
        sessions: sessionmaker[Session]) -> None:
    v1 = Keyring.from_env_value(KEYS_V1)
    people = _people(sessions, v1, 4)
    v2 = Keyring.from_env_value(KEYS_V2)
    tree = deks.tree_of(v2)
    with sessions() as s:
        (old_key,) = index_keys.live_keys(s, tree)
    late = "+15551248888"

    def race(done: int, total: int) -> None:
        if done < total or late in people:
            return
        # A first contact whose transaction took the old key as current before the
        # close opened the new one, committing behind the pass (lowest id: the
        # keyset pass has gone by it).
        with sessions.begin() as s:
            row = PlatformIdentity(id="0" * 32, platform="whatsapp", role="patient",
                                   created_at=LATER)
            ADDRESS.store(row, v2, late, session=s, now=LATER)
            s.add(row)
            s.flush()
            row.address_bidx = old_key.index("platform_identities", "address", late)
        people[late] = "0" * 32

    first = kek_epochs.close_epoch(sessions, tree, None, now=LATER, batch=2,
                                   index_progress=race)
    assert first.index_pending == 1 and first.unfinished
    assert first.index_keys_destroyed == 0 and first.rewrapped == 0
    assert first.removable_env_versions == []  # no root version named while it waits
    with sessions() as s:
        assert len(index_keys.live_keys(s, tree)) == 2
        for phone, person in people.items():  # the late row is still found
            found = find_identity(s, v2, "whatsapp", phone)
            assert found is not None and found.id == person
    again = kek_epochs.close_epoch(sessions, tree, None, now=LATER)
    assert not again.unfinished and again.reindexed == 1
    assert again.index_keys_destroyed == 1 and again.removable_env_versions == [1]
    with sessions() as s:
        for phone, person in people.items():
            found = find_identity(s, v2, "whatsapp", phone)
            assert found is not None and found.id == person


def test_keys_rewrap_moves_keyring_indexes_onto_the_epoch_key(
        sessions: sessionmaker[Session]) -> None:
    ring = Keyring.from_env_value(KEYS_V1)
    people = _people(sessions, ring, 3)
    with sessions.begin() as s:  # as the code before the index keys wrote them
        for phone, person in people.items():
            row = s.get(PlatformIdentity, person)
            assert row is not None
            row.address_bidx = ring.blind_index("platform_identities", "address", phone)
    with sessions() as s:
        assert keys.count_stale(s, ring)[("platform_identities", "address")] == 3
        for phone, person in people.items():  # still found meanwhile
            found = find_identity(s, ring, "whatsapp", phone)
            assert found is not None and found.id == person
    assert keys.rewrap(sessions, ring) == 3
    with sessions() as s:
        assert keys.count_stale(s, ring)[("platform_identities", "address")] == 0
        (key,) = index_keys.live_keys(s, deks.tree_of(ring))
        for phone, person in people.items():
            found = find_identity(s, ring, "whatsapp", phone)
            assert found is not None and found.id == person
            assert found.address_bidx is not None
            assert bi.index_dek(found.address_bidx) == key.dek_id


def test_lookups_from_another_thread_never_miss_during_a_close(
        sessions: sessionmaker[Session]) -> None:
    """The same, with the close really running beside the lookups (a second thread, its
    own connections), batches of one so the two interleave."""
    v1 = Keyring.from_env_value(KEYS_V1)
    people = _people(sessions, v1, 40)
    v2 = Keyring.from_env_value(KEYS_V2)
    tree = deks.tree_of(v2)
    box: dict[str, object] = {}

    def close() -> None:
        try:
            box["report"] = kek_epochs.close_epoch(sessions, tree, None, now=LATER, batch=1)
        except BaseException as exc:  # handed to the test thread
            box["error"] = exc

    worker = threading.Thread(target=close)
    worker.start()
    lookups, during = 0, 0
    try:
        while worker.is_alive() or lookups == 0:
            for phone, person in people.items():
                with sessions() as s:
                    both = len(index_keys.live_keys(s, tree)) == 2
                    window = find_live(s, v2, "whatsapp", phone)
                assert window is not None and window[0] == person, phone
                lookups += 1
                during += both
    finally:
        worker.join(timeout=60)
    assert "error" not in box, box.get("error")
    report = box["report"]
    assert isinstance(report, kek_epochs.CloseReport) and not report.unfinished
    assert report.reindexed == 40
    assert during > 0, "no lookup ran while both index keys were live"
