"""The relay's per-message key work is cached only where a cache cannot outlive a check.

Every inbound message looks its sender up by blind index. The index DEK's row is read
in the message's own transaction (which index DEKs are live is never remembered from an
earlier one); what the replica keeps across transactions is key material only - the
unwrapped DEK, as before, and now the (table, column) subkey derived from it, which
lives and is zeroed with the DEK's cache entry. The cache's expiry scan looks at the
expired prefix only, so these tests also pin that every expired entry is zeroed.

The attack test comes first: an index DEK destroyed in another transaction between two
lookups must not be used by the second, although this replica still holds its key and
its subkey in memory.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy.orm import Session, sessionmaker

from medcrypt.crypto.server import blind_index as bi
from medcrypt.crypto.server import keytree as kt
from medcrypt.crypto.server.env_provider import EnvProvider
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage import deks, index_keys
from medcrypt.storage.repos.identities import find_live, get_or_create_identity
from tests.support.storage import KEYS_V1, NOW

PHONE = "+15551230077"
TABLE, COLUMN = "platform_identities", "address"


def test_an_index_key_destroyed_between_two_transactions_is_not_used_by_the_second(
        sessions: sessionmaker[Session]) -> None:
    ring = Keyring.from_env_value(KEYS_V1)
    tree = deks.tree_of(ring)
    with sessions.begin() as s:
        person, _ = get_or_create_identity(s, ring, "whatsapp", PHONE, now=NOW)
        person_id = person.id
    with sessions() as s:  # a message: the lookup warms the DEK and its subkey
        window = find_live(s, ring, "whatsapp", PHONE)
        assert window is not None and window[0] == person_id
        (key,) = index_keys.live_keys(s, tree)
    assert tree.cached_dek(key.dek_id, key.version)
    with sessions.begin() as s:  # another transaction (a replica's close) destroys it
        deks.destroy_dek(s, key.dek_id, now=NOW)
    # This replica was not told: the key and its subkey are still in its memory ...
    assert tree.cached_dek(key.dek_id, key.version)
    with sessions() as s:  # ... yet the next message's lookup computes nothing under it
        made = index_keys.candidates(s, ring, TABLE, COLUMN, PHONE)
        assert made == ring.blind_index_candidates(TABLE, COLUMN, PHONE)
        assert not any(index.startswith(key.prefix) for index in made)
        assert index_keys.live_keys(s, tree) == []
        assert find_live(s, ring, "whatsapp", PHONE) is None  # the link is shredded


def _tree(clock: list[float]) -> tuple[kt.KeyTree, str, bytes]:
    tree = kt.KeyTree(EnvProvider({1: os.urandom(32)}, None), monotonic=lambda: clock[0],
                      ttl_seconds=60)
    kek_id, wrapped = tree.new_kek()
    return tree, kek_id, wrapped


def _index_row(tree: kt.KeyTree, kek_id: str, kek_wrapped: bytes) -> kt.DekRow:
    return tree.create_dek(purpose=bi.PURPOSE, person_id=None, kek_id=kek_id,
                           kek_wrapped=kek_wrapped)


def test_a_derived_subkey_is_made_once_per_cached_dek_and_zeroed_with_it() -> None:
    clock = [0.0]
    tree, kek_id, kek_wrapped = _tree(clock)
    row = _index_row(tree, kek_id, kek_wrapped)
    made: list[bytearray] = []

    def derive(dek: bytearray) -> bytearray:
        made.append(bi.subkey(dek, TABLE, COLUMN))
        return made[-1]

    name = (bi.PURPOSE, TABLE, COLUMN)
    first = tree.derived(row, kek_wrapped, name, derive)
    assert tree.derived(row, kek_wrapped, name, derive) is first and len(made) == 1
    assert first == bi.subkey(tree.dek(row, kek_wrapped), TABLE, COLUMN)
    index = index_keys.IndexKey(row.dek_id, row.version, tree.dek(row, kek_wrapped), tree,
                                (row, kek_wrapped))
    assert index.index(TABLE, COLUMN, PHONE) == bi.compute(
        tree.dek(row, kek_wrapped), row.dek_id, TABLE, COLUMN, PHONE)

    tree.forget_dek(row.dek_id)  # destroyed here: the subkey goes with the DEK
    assert first == bytearray(32)
    second = tree.derived(row, kek_wrapped, name, derive)
    assert second is not first and second != bytearray(32) and len(made) == 2

    clock[0] = 61.0  # TTL over: expired with the DEK
    tree.kek(kek_id, kek_wrapped)
    assert second == bytearray(32) and not tree.cached_dek(row.dek_id, row.version)

    third = tree.derived(row, kek_wrapped, name, derive)
    tree.wipe()
    assert third == bytearray(32)


def test_a_dek_dropped_while_its_subkey_is_being_made_is_read_again_not_used_zeroed(
        ) -> None:
    """Another thread drops the cache entry (expiry, ``forget_dek``) just after the
    tree found it and before the subkey is derived: deriving from its zeroed key would
    give a subkey of zeros, a look-up that silently finds nobody."""
    clock = [0.0]
    tree, kek_id, kek_wrapped = _tree(clock)
    row = _index_row(tree, kek_id, kek_wrapped)
    want = bi.subkey(tree.dek(row, kek_wrapped), TABLE, COLUMN)
    tree.forget_dek(row.dek_id)  # cold: the tree unwraps the DEK again
    found = tree._dek_entry
    dropped: list[str] = []

    def found_then_dropped(r: kt.DekRow, wrapped: bytes) -> object:
        entry = found(r, wrapped)
        if not dropped:  # the other thread's forget_dek, between the two steps
            dropped.append(r.dek_id)
            tree.forget_dek(r.dek_id)
        return entry

    tree._dek_entry = found_then_dropped  # type: ignore[method-assign]
    sub = tree.derived(row, kek_wrapped, (bi.PURPOSE, TABLE, COLUMN),
                       lambda dek: bi.subkey(dek, TABLE, COLUMN))
    assert dropped and sub == want != bi.subkey(bytearray(32), TABLE, COLUMN)


def test_a_rewrapped_row_never_gets_the_subkey_cached_for_other_bytes() -> None:
    clock = [0.0]
    tree, kek_id, kek_wrapped = _tree(clock)
    row = _index_row(tree, kek_id, kek_wrapped)
    name = (bi.PURPOSE, TABLE, COLUMN)
    old = tree.derived(row, kek_wrapped, name, lambda d: bi.subkey(d, TABLE, COLUMN))
    # The same DEK rewrapped (another nonce): another cache entry, derived afresh.
    dek = bytearray(tree.dek(row, kek_wrapped))
    rewrapped = kt.DekRow(row.dek_id, row.version, row.purpose, None, kek_id, kt.wrap_dek(
        tree.kek(kek_id, kek_wrapped), dek, purpose=row.purpose, person_id=None,
        dek_id=row.dek_id, version=row.version, kek_id=kek_id))
    calls: list[int] = []

    def derive(d: bytearray) -> bytearray:
        calls.append(1)
        return bi.subkey(d, TABLE, COLUMN)

    new = tree.derived(rewrapped, kek_wrapped, name, derive)
    assert calls == [1] and new is not old and old == bytearray(32)
    assert new == bi.subkey(dek, TABLE, COLUMN)


def test_every_expired_entry_is_zeroed_and_live_ones_stay() -> None:
    clock = [0.0]
    tree, kek_id, kek_wrapped = _tree(clock)
    early = [_index_row(tree, kek_id, kek_wrapped) for _ in range(3)]
    early_keys = [tree.dek(r, kek_wrapped) for r in early]
    clock[0] = 30.0
    late = [_index_row(tree, kek_id, kek_wrapped) for _ in range(3)]
    late_keys = [tree.dek(r, kek_wrapped) for r in late]
    clock[0] = 61.0  # the early DEKs and the KEK (stamped at 0) are over, the late not
    calls = tree.provider_calls
    assert tree.dek(late[0], kek_wrapped) is late_keys[0]  # still cached: no unwrap
    assert tree.provider_calls == calls
    assert all(k == bytearray(32) for k in early_keys)
    assert not any(tree.cached_dek(r.dek_id, r.version) for r in early)
    assert all(k != bytearray(32) for k in late_keys)
    tree.dek(early[1], kek_wrapped)  # needs the KEK again: one unwrap
    assert tree.provider_calls == calls + 1
    clock[0] = 91.0
    tree.dek(early[1], kek_wrapped)  # refreshed at 61: still cached at 91
    assert all(k == bytearray(32) for k in late_keys)
    assert tree.provider_calls == calls + 1


@pytest.mark.parametrize("versions", [1, 2, 3, 20])
def test_a_lookup_finds_its_person_whatever_the_number_of_candidates(
        sessions: sessionmaker[Session], versions: int) -> None:
    """The lookup's statement is prebuilt per number of candidates (one per live index
    DEK and keyring version), with an expanding fallback past 16: each shape finds the
    person indexed under the index DEK, one indexed under an old keyring version (not
    yet converted), and nobody else."""
    ring = Keyring({v: os.urandom(32) for v in range(1, versions + 1)})
    with sessions.begin() as s:
        person, _ = get_or_create_identity(s, ring, "whatsapp", PHONE, now=NOW)
        other, _ = get_or_create_identity(s, ring, "whatsapp", "+15551230078", now=NOW)
        # Another row as a not-yet-converted one: indexed under keyring version 1.
        other.address_bidx = ring.blind_index(TABLE, COLUMN, "+15551230078", version=1)
    with sessions() as s:
        assert len(index_keys.candidates(s, ring, TABLE, COLUMN, PHONE)) == versions + 1
        found = find_live(s, ring, "whatsapp", PHONE)
        assert found is not None and found[0] == person.id
        found = find_live(s, ring, "whatsapp", "+15551230078")
        assert found is not None and found[0] == other.id
        assert find_live(s, ring, "whatsapp", "+15551230079") is None
        assert find_live(s, ring, "telegram", "8000001") is None
