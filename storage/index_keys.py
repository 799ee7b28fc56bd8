"""The shred epoch's blind-index keys: ``blind-index`` purpose DEKs, read in the caller's
transaction (docs/adr/0039-shred-epochs.md, Amendment 1).

One index DEK per epoch (person NULL, version +1 per epoch), wrapped locally under the
epoch KEK like every DEK: computing an index makes no provider call once the KEK is warm.

* :func:`live_keys` - every live index DEK, newest first: a lookup tries each (one
  normally, two while a close recomputes the rows), so a person is found under the old
  or the new key until the close finishes.
* :func:`current_key` - the newest, which every new index value is made under; made
  when there is none (on PostgreSQL under a transaction lock, so two first contacts
  cannot each index under a key of their own). On PostgreSQL it
  is share-locked until commit, so the close's destruction of an older key waits for an
  insert that used it, then sees its row.
* :func:`open_epoch_key` - the next epoch's key, made by the close with the new KEK.
* :func:`candidates` / :func:`current_index` - index bytes for lookups and writes.

Each call reads the rows again (one indexed SELECT on ``person_id IS NULL``): a replica
that remembered an older set would miss a person the close had just moved.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, func, select, text
from sqlalchemy.orm import Session

from medcrypt.crypto.server import blind_index as bi
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.crypto.server.keytree import DekRow, KeyTree
from medcrypt.storage import deks
from medcrypt.storage.models.keytree import Dek, Kek

_DEKS: Table = Dek.__table__  # type: ignore[assignment]
_KEKS: Table = Kek.__table__  # type: ignore[assignment]
#: Built once: every inbound message runs it (the relay's lookup by phone number).
_LIVE = (select(_DEKS.c.id, _DEKS.c.version, _DEKS.c.kek_id, _DEKS.c.wrapped,
                _KEKS.c.wrapped.label("kek_wrapped"))
         .join(_KEKS, _KEKS.c.id == _DEKS.c.kek_id)
         .where(_DEKS.c.person_id.is_(None), _DEKS.c.purpose == bi.PURPOSE,
                _DEKS.c.wrapped.is_not(None))
         .order_by(_DEKS.c.version.desc(), _DEKS.c.created_at.desc(), _DEKS.c.id.desc()))
_NEWEST_SHARED = _LIVE.limit(1).with_for_update(read=True, of=_DEKS)


@dataclass(frozen=True, slots=True)
class IndexKey:
    """One live index DEK as read in the caller's transaction.

    ``tree`` and ``row`` (the row as read, and its KEK's wrapped bytes) let :meth:`index`
    take the (table, column) subkey from the tree's cache of this DEK instead of
    deriving it per lookup; without them (a key just made) it derives each time.
    """

    dek_id: str
    version: int
    key: bytearray
    tree: KeyTree | None = None
    row: tuple[DekRow, bytes] | None = None

    def index(self, table: str, column: str, normalized: str) -> bytes:
        if self.tree is None or self.row is None:
            return bi.compute(self.key, self.dek_id, table, column, normalized)
        row, kek_wrapped = self.row
        subkey = self.tree.derived(row, kek_wrapped, (bi.PURPOSE, table, column),
                                   lambda dek: bi.subkey(dek, table, column))
        return bi.under(subkey, self.dek_id, normalized)

    @property
    def prefix(self) -> bytes:
        return bi.prefix(self.dek_id)


def _conn(where: Session | Connection) -> Connection:
    return where if isinstance(where, Connection) else where.connection()


def _key(tree: KeyTree, found: Any) -> IndexKey:
    row = DekRow(str(found.id), int(found.version), bi.PURPOSE, None, str(found.kek_id),
                 bytes(found.wrapped))
    kek_wrapped = bytes(found.kek_wrapped)
    return IndexKey(row.dek_id, row.version, tree.dek(row, kek_wrapped), tree,
                    (row, kek_wrapped))


def live_keys(where: Session | Connection, tree: KeyTree) -> list[IndexKey]:
    """Every live index DEK, newest (the current epoch's) first; empty before the first
    index value was ever made."""
    return [_key(tree, found) for found in _conn(where).execute(_LIVE)]


def current_key(session: Session, tree: KeyTree, *, now: datetime) -> IndexKey:
    """The index DEK new values go under, made (locally, under the current KEK) when
    the database has none."""
    conn = session.connection()
    postgres = conn.dialect.name == "postgresql"
    stmt = _NEWEST_SHARED if postgres else _LIVE.limit(1)
    found = conn.execute(stmt).first()
    if found is not None:
        return _key(tree, found)
    if postgres:
        # A key made in this (uncommitted) transaction is invisible to a concurrent
        # first contact, which would make its own and index the same person under
        # another key: two identities (tests/storage/test_concurrency.py). So the first
        # key's maker holds a transaction lock; a second waits for the first to commit
        # and then reads its key. (SQLite has one writer at a time already.)
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _FIRST_LOCK})
        found = conn.execute(stmt).first()
        if found is not None:
            return _key(tree, found)
    return _made(session, tree, now=now, version=1)


#: Advisory lock of the first index key's maker: 63 bits of SHA-256, as storage/joblock.
_FIRST_LOCK = int.from_bytes(
    hashlib.sha256(b"medcrypt-index-key:first").digest()[:8], "big", signed=True)


def open_epoch_key(session: Session, tree: KeyTree, *, now: datetime) -> IndexKey:
    """A new index DEK (version above every earlier one) under the current KEK: the
    close makes it in the transaction that makes the new KEK."""
    top = session.scalar(select(func.max(Dek.version)).where(
        Dek.person_id.is_(None), Dek.purpose == bi.PURPOSE)) or 0
    return _made(session, tree, now=now, version=int(top) + 1)


def _made(session: Session, tree: KeyTree, *, now: datetime, version: int) -> IndexKey:
    row, key = deks.create_dek(session, tree, purpose=bi.PURPOSE, person_id=None, now=now,
                               version=version)
    return IndexKey(row.dek_id, row.version, key)


def candidates(where: Session | Connection, keyring: Keyring, table: str, column: str,
               normalized: str) -> list[bytes]:
    """Every index a live row of this value can hold: under each live index DEK, and
    under each keyring version (rows ``keys rewrap`` or a close has not converted)."""
    found = [k.index(table, column, normalized) for k in live_keys(where, deks.tree_of(keyring))]
    return found + keyring.blind_index_candidates(table, column, normalized)


def current_index(session: Session, keyring: Keyring, table: str, column: str,
                  normalized: str, *, now: datetime) -> bytes:
    """The index a value written now gets (under the current epoch's index DEK)."""
    return current_key(session, deks.tree_of(keyring), now=now).index(table, column,
                                                                       normalized)
