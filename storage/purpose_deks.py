"""Purpose DEKs of the key tree: one shared data key per purpose (person NULL) for the
sealed values that belong to no one person (docs/adr/0037-key-tree.md, Amendment 1).

The per-person DEKs of :mod:`storage.deks` make erasure a key destruction; a purpose DEK
is for what erasure does not reach through a person: break-glass reasons (the clinic's
record of an emergency access) and the audit log's own keys (subject keys and the
pseudonym key, each destroyed by deleting its row). Like every DEK it is wrapped locally
under the epoch KEK, so sealing and opening make no provider call once the KEK is warm.

:func:`sealing_dek` finds the purpose's newest live DEK *and* its KEK in one statement
in the caller's transaction (share-locked on PostgreSQL, as :func:`storage.deks.live_dek`
does), making one when there is none. Two transactions that both find none each make
one (no unique index: on SQLite writers are serialised, and on PostgreSQL the loser's
key is as good as the winner's); every live version opens the values sealed under it,
and the newest seals.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, select
from sqlalchemy.orm import Session

from medcrypt.crypto.server.keytree import DekRow, KeyTree
from medcrypt.storage import deks
from medcrypt.storage.models.keytree import Dek, Kek

_DEKS: Table = Dek.__table__  # type: ignore[assignment]
_KEKS: Table = Kek.__table__  # type: ignore[assignment]
#: Built once: every new audit subject and every break-glass request runs it.
_NEWEST = (select(_DEKS.c.id, _DEKS.c.version, _DEKS.c.kek_id, _DEKS.c.wrapped,
                  _KEKS.c.wrapped.label("kek_wrapped"))
           .join(_KEKS, _KEKS.c.id == _DEKS.c.kek_id)
           .where(_DEKS.c.purpose == bindparam("purpose"), _DEKS.c.person_id.is_(None),
                  _DEKS.c.wrapped.is_not(None))
           .order_by(_DEKS.c.version.desc(), _DEKS.c.created_at.desc(), _DEKS.c.id)
           .limit(1))
_NEWEST_SHARED = _NEWEST.with_for_update(read=True, of=_DEKS)


def sealing_dek(where: Session | Connection, tree: KeyTree, purpose: str, *,
                now: datetime) -> tuple[DekRow, bytearray]:
    """The purpose's newest live DEK and its key, read (or made) in the caller's
    transaction: one SELECT when it exists, no provider call once the KEK is warm."""
    if isinstance(where, Session):
        conn = where.connection()
        found: Any = conn.execute(_statement(conn), {"purpose": purpose}).first()
        if found is None:
            return deks.create_dek(where, tree, purpose=purpose, person_id=None, now=now)
        return _key(tree, purpose, found)
    conn = where
    found = conn.execute(_statement(conn), {"purpose": purpose}).first()
    if found is not None:
        return _key(tree, purpose, found)
    # A session joined to the caller's transaction (it neither commits nor rolls back
    # what it did not begin), so the storage.deks code that makes DEKs runs unchanged.
    with Session(bind=conn) as session:
        return deks.create_dek(session, tree, purpose=purpose, person_id=None, now=now)


def _statement(conn: Connection) -> Any:
    return _NEWEST_SHARED if conn.dialect.name == "postgresql" else _NEWEST


def _key(tree: KeyTree, purpose: str, found: Any) -> tuple[DekRow, bytearray]:
    row = DekRow(str(found.id), int(found.version), purpose, None, str(found.kek_id),
                 bytes(found.wrapped))
    return row, tree.dek(row, bytes(found.kek_wrapped))
