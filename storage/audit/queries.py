"""The audit log's SQL on its fast paths: batch inserts, the verify query and stream.

Verification streams ``(seq, ts_us, actor, subject, action, details, prev_hash,
entry_hash)`` tuples straight from the DBAPI cursor of one consistent snapshot
(REPEATABLE READ on PostgreSQL, one read transaction on SQLite) into the pure
verifier, with the text columns cast to bytes in SQL: SQLAlchemy ``Row`` objects and
re-encoding three strings per row would each cost more than the SHA-256.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    LargeBinary,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError

from medcrypt.crypto.errors import DecryptionFailed
from medcrypt.crypto.server.audit import open_details
from medcrypt.storage.audit.records import ENTRIES, HEAD, ExportedEntry, from_us
from medcrypt.storage.db import is_sqlite


class Prebuilt:
    """A Core statement compiled once per dialect and run on the driver's own cursor.

    For the audit append's few statements: SQLAlchemy's per-execution work (execution
    context, parameter processing, result set-up) cost more than SQLite or PostgreSQL
    spent running them. Only for statements whose parameters the driver binds as they
    are (integers, bytes, text) and that carry no literal values of their own.
    """

    def __init__(self, statement: Any) -> None:
        self._statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None]] = {}

    def run(self, conn: Connection, params: dict[str, Any] | None = None) -> list[Any]:
        """Execute in ``conn``'s transaction; returns the rows (RETURNING), if any."""
        name = conn.dialect.name
        found = self._compiled.get(name)
        if found is None:
            compiled = self._statement.compile(dialect=conn.dialect)
            order = tuple(compiled.positiontup) if compiled.positiontup else None
            found = self._compiled[name] = (str(compiled), order)
        sql, order = found
        values = params or {}
        if not conn.in_transaction():  # the engine's BEGIN (SQLite: storage.db) comes first
            conn.begin()
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        args = tuple(values[k] for k in order) if order else values
        base = conn.dialect.loaded_dbapi.Error
        try:
            cursor.execute(sql, args)
            return list(cursor.fetchall()) if cursor.description else []
        except base as exc:  # the same wrapped error SQLAlchemy's own execute raises
            raise DBAPIError.instance(sql, args, exc, base, hide_parameters=True,
                                      dialect=conn.dialect) from exc
        finally:
            cursor.close()


def insert_entries(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """One executemany of the batch's entries.

    On SQLite straight to the driver: the columns are integers, text and bytes that
    sqlite3 binds as they are, and SQLAlchemy's per-row parameter processing was half
    the cost of inserting a batch (0.44 s of 0.88 s for 20,000 entries). PostgreSQL
    keeps SQLAlchemy's insertmanyvalues, which batches rows into multi-row INSERTs.
    """
    if len(rows) == 1:  # a single append: the driver's cursor, statement compiled once
        _INSERT_ONE.run(conn, rows[0])
        return
    if conn.dialect.name != "sqlite":
        conn.execute(_INSERT, rows)
        return
    conn.exec_driver_sql(_SQLITE_INSERT, [tuple(row[k] for k in _SQLITE_ORDER) for row in rows])


#: Built and compiled once: every append runs one of these (compiling it per call was a
#: fifth of a single append's CPU).
_INSERT = insert(ENTRIES)
_SQLITE_COMPILED = _INSERT.compile(dialect=sqlite.dialect())
_SQLITE_INSERT = str(_SQLITE_COMPILED)
_SQLITE_ORDER: tuple[str, ...] = tuple(_SQLITE_COMPILED.positiontup or ())
_INSERT_ONE = Prebuilt(_INSERT.values({c.name: bindparam(c.name) for c in ENTRIES.columns}))
#: PostgreSQL: one entry and the head's move in one statement (a data-modifying CTE),
#: one round trip instead of two - each round trip cost the bot as much CPU as the
#: statement's own work.
_INSERT_AND_MOVE = Prebuilt(
    update(HEAD).where(HEAD.c.id == literal_column("1"))
    .values(seq=bindparam("h_seq"), entry_hash=bindparam("h_hash"))
    .add_cte(_INSERT.values({c.name: bindparam(f"e_{c.name}") for c in ENTRIES.columns})
             .cte("entry")))


def insert_and_move_head(conn: Connection, row: dict[str, Any], seq: int,
                         entry_hash: bytes) -> bool:
    """Insert one entry and move the head to it in one statement where the database
    allows (PostgreSQL); False when the caller must run the two statements itself."""
    if conn.dialect.name != "postgresql":
        return False
    _INSERT_AND_MOVE.run(conn, {"h_seq": seq, "h_hash": entry_hash,
                                **{f"e_{k}": v for k, v in row.items()}})
    return True


def verify_sql(conn: Connection, after: int | None = None, upto: int | None = None) -> str:
    """The verify query, text columns cast to bytes (``convert_to`` on PostgreSQL: a
    ``text::bytea`` cast would interpret backslash escapes); optionally one seq slice
    ``after < seq <= upto``. Every stored column is selected: each one is hashed or
    compared, so a change to any of them is detected."""
    def raw(column: Any) -> Any:
        if conn.dialect.name == "postgresql":
            return func.convert_to(column, "UTF8")
        return cast(column, LargeBinary)

    c = ENTRIES.c
    stmt = select(c.seq, c.ts_us, raw(c.actor_ref), raw(c.subject_ref), raw(c.action),
                  c.details, c.prev_hash, c.entry_hash).order_by(c.seq)
    if after is not None:
        stmt = stmt.where(c.seq > after)
    if upto is not None:
        stmt = stmt.where(c.seq <= upto)
    return str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))


def stream_entries(
    conn: Connection, batch_size: int, sql: str | None = None
) -> Generator[Sequence[Any], None, None]:
    """Entry tuples straight from the driver, in ``batch_size`` lists.

    The hot path of verify: SQLAlchemy's Row objects and result processors cost more
    than the SHA-256 itself, so the compiled Core statement runs on the DBAPI cursor of
    the *same* connection (same transaction, same snapshot). On PostgreSQL it is a
    named, server-side cursor, so a million rows never sit in memory at once.
    """
    sql = sql or verify_sql(conn)
    raw: Any = conn.connection.dbapi_connection
    cursor = raw.cursor() if is_sqlite(conn.engine) else raw.cursor(name="medcrypt_verify")
    try:
        cursor.execute(sql)
        while batch := cursor.fetchmany(batch_size):
            yield batch
    finally:
        cursor.close()


def decrypt_row(key: bytes | None, row: Any) -> ExportedEntry:
    """One exported entry: ``erased`` without its subject key, ``undecryptable`` when
    the sealed details do not open."""
    seq, ts_us, actor, subject, action, sealed = row
    when = from_us(ts_us)
    if key is None:
        return ExportedEntry(seq, when, actor, subject, action, None, "erased")
    try:
        details = open_details(key, seq, subject, action, bytes(sealed))
    except DecryptionFailed:
        return ExportedEntry(seq, when, actor, subject, action, None, "undecryptable")
    return ExportedEntry(seq, when, actor, subject, action, details, "ok")
