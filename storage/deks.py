"""Storage side of the key tree: the ``keks`` and ``deks`` rows, read in the caller's
transaction before every use of a key (docs/adr/0037-key-tree.md).

* :func:`tree_of` - the keyring's :class:`KeyTree`; with no provider configured, one
  rooted in the ``env`` provider built from the keyring's own keys.
* :func:`current_kek` - the newest live KEK of the tree's provider, made (one provider
  call) when the database has none.
* :func:`create_dek` - a new purpose or person DEK, wrapped locally: no provider call
  once the KEK is warm.
* :func:`live_dek` - read a DEK row *and* its KEK in one statement, refusing a destroyed
  one (:class:`DekDestroyed`) whatever the replica has cached; on PostgreSQL the row is
  share-locked, so a concurrent destroy waits for this transaction.
* :func:`live_deks` - the same for many DEKs in one statement: the outbox opens the
  addresses of a whole claim batch with one round trip, not one per row (ADR 0043).
* :func:`destroy_person_deks` - crypto-shred a person: every version's wrapped key goes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from medcrypt.crypto.errors import DekDestroyed, KeyVersionMissing, StorageError
from medcrypt.crypto.server.env_provider import EnvProvider
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.crypto.server.keytree import DekRow, KeyTree, new_id
from medcrypt.crypto.server.provider import wrapped_version
from medcrypt.storage.models.keytree import Dek, Kek

_DEKS: Table = Dek.__table__  # type: ignore[assignment]
_KEKS: Table = Kek.__table__  # type: ignore[assignment]
#: Built once: the relay runs it for every sealed value it opens or writes.
_DEK_AND_KEK = (select(_DEKS.c.id, _DEKS.c.version, _DEKS.c.purpose, _DEKS.c.person_id,
                       _DEKS.c.kek_id, _DEKS.c.wrapped, _KEKS.c.wrapped.label("kek_wrapped"))
                .join(_KEKS, _KEKS.c.id == _DEKS.c.kek_id))
_LIVE = _DEK_AND_KEK.where(_DEKS.c.id == bindparam("dek_id"))
_LIVE_SHARED = _LIVE.with_for_update(read=True, of=_DEKS)
#: :data:`_LIVE` for a set of DEKs, in id order (so concurrent batches lock alike).
_LIVE_MANY = (_DEK_AND_KEK.where(_DEKS.c.id.in_(bindparam("dek_ids", expanding=True)))
              .order_by(_DEKS.c.id))
_LIVE_MANY_SHARED = _LIVE_MANY.with_for_update(read=True, of=_DEKS)
#: DEK ids per statement (an IN list; a claim batch names at most a few hundred).
_MANY_CHUNK = 500
_CURRENT_KEK = (select(_KEKS.c.id, _KEKS.c.wrapped)
                .where(_KEKS.c.provider == bindparam("provider"),
                       _KEKS.c.retired_at.is_(None))
                .order_by(_KEKS.c.created_at.desc(), _KEKS.c.id).limit(1))
#: PostgreSQL: a DEK made under the current KEK share-locks it until commit, so closing
#: the epoch cannot retire that KEK between this read and the DEK's insert.
_CURRENT_KEK_SHARED = _CURRENT_KEK.with_for_update(read=True)


def tree_of(keyring: Keyring) -> KeyTree:
    """The keyring's key tree; set by the composition root, else rooted in ``env``."""
    tree = keyring.tree
    if isinstance(tree, KeyTree):
        return tree
    masters = keyring.master_keys()
    try:
        root = EnvProvider(masters, None)
    finally:
        for key in masters.values():
            key[:] = bytes(len(key))
    tree = KeyTree(root, monotonic=time.monotonic)
    keyring.tree = tree
    return tree


def current_kek(session: Session, tree: KeyTree, *, now: datetime) -> tuple[str, bytes]:
    """``(kek id, wrapped)`` of the KEK new DEKs go under; made when there is none."""
    conn = session.connection()
    stmt = _CURRENT_KEK_SHARED if conn.dialect.name == "postgresql" else _CURRENT_KEK
    row = conn.execute(stmt, {"provider": tree.provider_name}).first()
    if row is not None:
        return str(row.id), bytes(row.wrapped)
    kek_id, wrapped = tree.new_kek()
    session.add(Kek(id=kek_id, provider=tree.provider_name,
                    root_version=wrapped_version(wrapped), wrapped=wrapped, created_at=now))
    session.flush()
    return kek_id, wrapped


def warm(session: Session, tree: KeyTree, *, now: datetime) -> str:
    """Unwrap the current KEK now (at start), so no message pays that provider call;
    returns its id."""
    kek_id, wrapped = current_kek(session, tree, now=now)
    tree.kek(kek_id, wrapped)
    return kek_id


def kek_row(session: Session, kek_id: str) -> tuple[str, bytes]:
    """``(kek id, wrapped)`` of a live KEK (shred epochs rewrap DEKs onto it)."""
    wrapped = session.scalar(select(Kek.wrapped).where(Kek.id == kek_id,
                                                       Kek.retired_at.is_(None)))
    if wrapped is None:
        raise KeyVersionMissing("the KEK is retired or unknown")
    return kek_id, bytes(wrapped)


def lock_kek(session: Session, kek_id: str) -> bool:
    """Lock a live KEK row for retirement (PostgreSQL ``FOR UPDATE``: waits for every
    transaction creating a DEK under it); False when it is retired or unknown."""
    stmt = select(Kek.id).where(Kek.id == kek_id, Kek.retired_at.is_(None))
    if session.connection().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return session.scalar(stmt) is not None


def create_dek(session: Session, tree: KeyTree, *, purpose: str, person_id: str | None,
               now: datetime, version: int = 1) -> tuple[DekRow, bytearray]:
    """A new DEK row (wrapped locally under the current KEK) in the caller's transaction,
    and its key."""
    kek_id, kek_wrapped = current_kek(session, tree, now=now)
    row = tree.create_dek(purpose=purpose, person_id=person_id, kek_id=kek_id,
                          kek_wrapped=kek_wrapped, dek_id=new_id(), version=version)
    session.add(Dek(id=row.dek_id, version=row.version, purpose=purpose,
                    person_id=person_id, kek_id=kek_id, wrapped=row.wrapped,
                    created_at=now))
    session.flush()
    return row, tree.dek(row, kek_wrapped)


def live_dek(session: Session | Connection, tree: KeyTree,
             dek_id: str) -> tuple[DekRow, bytearray]:
    """The DEK row and its key, checked in this transaction: a destroyed row is refused
    even when this replica still holds the key in memory. (A Connection for callers
    that write through Core, such as the audit log.)"""
    conn = session if isinstance(session, Connection) else session.connection()
    stmt = _LIVE_SHARED if conn.dialect.name == "postgresql" else _LIVE
    found: Any = conn.execute(stmt, {"dek_id": dek_id}).first()
    if found is None:
        raise KeyVersionMissing("a sealed value names a data key that does not exist")
    if found.wrapped is None:
        tree.forget_dek(dek_id)
        raise DekDestroyed("the data key of this value was destroyed (erased)")
    return _unwrapped(tree, found)


def _unwrapped(tree: KeyTree, found: Any) -> tuple[DekRow, bytearray]:
    row = DekRow(str(found.id), int(found.version), str(found.purpose),
                 found.person_id, str(found.kek_id), bytes(found.wrapped))
    return row, tree.dek(row, bytes(found.kek_wrapped))


def live_deks(session: Session | Connection, tree: KeyTree,
              dek_ids: Iterable[str]) -> dict[str, tuple[DekRow, bytearray]]:
    """:func:`live_dek` for every id in ``dek_ids``, read (and share-locked on PostgreSQL)
    in one statement per 500 ids: the same check in the same transaction, one round trip
    for a batch. Raises as :func:`live_dek` does if any of them is missing or destroyed
    (every destroyed one is dropped from the cache first)."""
    conn = session if isinstance(session, Connection) else session.connection()
    stmt = _LIVE_MANY_SHARED if conn.dialect.name == "postgresql" else _LIVE_MANY
    wanted = sorted(set(dek_ids))
    found: dict[str, Any] = {}
    for start in range(0, len(wanted), _MANY_CHUNK):
        for row in conn.execute(stmt, {"dek_ids": wanted[start:start + _MANY_CHUNK]}):
            found[str(row.id)] = row
    if len(found) != len(wanted):
        raise KeyVersionMissing("a sealed value names a data key that does not exist")
    destroyed = [dek_id for dek_id, row in found.items() if row.wrapped is None]
    for dek_id in destroyed:
        tree.forget_dek(dek_id)
    if destroyed:
        raise DekDestroyed("the data key of this value was destroyed (erased)")
    return {dek_id: _unwrapped(tree, row) for dek_id, row in found.items()}


def destroy_person_deks(session: Session, person_id: str, *, now: datetime) -> list[str]:
    """Destroy every live DEK of ``person_id``; returns their ids (no personal data)."""
    ids = [str(i) for i in session.scalars(
        select(Dek.id).where(Dek.person_id == person_id, Dek.destroyed_at.is_(None)))]
    if ids:
        session.execute(update(Dek).where(Dek.id.in_(ids))
                        .values(wrapped=None, destroyed_at=now)
                        .execution_options(synchronize_session="fetch"))
    return ids


def live_ids_of(session: Session, person_id: str) -> list[str]:
    """Ids of the person's live DEKs (to record their destruction; no personal data)."""
    return [str(i) for i in session.scalars(
        select(Dek.id).where(Dek.person_id == person_id, Dek.destroyed_at.is_(None))
        .order_by(Dek.id))]


def destroy_if_live(session: Session, dek_ids: list[str], *, now: datetime) -> int:
    """Destroy whichever of ``dek_ids`` are still live (a restore re-applying the erasure
    record: idempotent, and ids the backup never had are ignored); returns how many."""
    if not dek_ids:
        return 0
    result = session.execute(update(Dek).where(Dek.id.in_(dek_ids),
                                               Dek.destroyed_at.is_(None))
                             .values(wrapped=None, destroyed_at=now)
                             .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def destroy_dek(session: Session, dek_id: str, *, now: datetime) -> None:
    """Destroy one DEK version (after rotation moved every value off it)."""
    result = session.execute(update(Dek).where(Dek.id == dek_id, Dek.destroyed_at.is_(None))
                             .values(wrapped=None, destroyed_at=now)
                             .execution_options(synchronize_session="fetch"))
    if getattr(result, "rowcount", 1) == 0:
        raise StorageError("no live data key with this id")


def next_version(session: Session, dek_id: str) -> DekRow:
    """The row of ``dek_id`` (live), to derive its successor's purpose, person, version."""
    dek = session.get(Dek, dek_id)
    if dek is None or dek.wrapped is None:
        raise DekDestroyed("the data key to rotate is destroyed or unknown")
    return DekRow(dek.id, dek.version, dek.purpose, dek.person_id, dek.kek_id, dek.wrapped)


def stale_keks(session: Session, keyring: Keyring) -> list[tuple[int, int]]:
    """``(root version, KEKs)`` of ``env`` KEKs wrapped under a keyring version that is
    not configured: their DEKs, and every value under them, would not open."""
    rows = session.execute(select(Kek.root_version, func.count()).where(
        Kek.provider == "env", Kek.retired_at.is_(None)).group_by(Kek.root_version))
    return [(int(v), int(n)) for v, n in rows if v not in keyring.versions]


def rewrap_keks(session: Session, tree: KeyTree, *, skip_version: int | None = None) -> int:
    """Re-wrap every live KEK of the tree's provider under its current root version:
    two provider calls per KEK (never per DEK), so the old root version can go. KEKs
    already on ``skip_version`` are left alone. Returns KEKs rewritten."""
    changed = 0
    for kek in session.scalars(select(Kek).where(Kek.provider == tree.provider_name,
                                                 Kek.retired_at.is_(None))):
        if skip_version is not None and kek.root_version == skip_version:
            continue
        wrapped = tree.rewrap_kek(kek.id, kek.wrapped)
        version = wrapped_version(wrapped)
        if version != kek.root_version:
            kek.wrapped, kek.root_version = wrapped, version
            changed += 1
    session.flush()
    return changed


def counts(session: Session) -> dict[str, int]:
    """Live and destroyed DEKs, and KEKs (for ``keys status``; no personal data)."""
    live = session.scalar(select(func.count()).select_from(Dek)
                          .where(Dek.destroyed_at.is_(None))) or 0
    gone = session.scalar(select(func.count()).select_from(Dek)
                          .where(Dek.destroyed_at.is_not(None))) or 0
    keks = session.scalar(select(func.count()).select_from(Kek)) or 0
    return {"deks_live": int(live), "deks_destroyed": int(gone), "keks": int(keks)}
