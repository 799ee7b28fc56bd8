"""Engines and sessions for SQLite (default) and PostgreSQL (psycopg 3).

SQLite is configured on *every* new DBAPI connection, not once per file, because
pragmas such as ``foreign_keys`` and ``secure_delete`` are per connection and a pool
hands out fresh ones at any time. ``secure_delete`` is verified after being set: a
SQLite build compiled with ``SQLITE_SECURE_DELETE`` off-and-locked would silently keep
deleted key and token bytes in free pages, and crypto-shredding would be a lie - so a
connection where it does not stick is refused with :class:`StorageError`.

WAL keeps readers from blocking the single writer; ``busy_timeout`` makes concurrent
writers wait instead of failing; :func:`sqlite_checkpoint_truncate` folds the WAL back
into the main file and truncates it after a shred, so deleted bytes do not survive in
the ``-wal`` file either.

Both backends use ``hide_parameters=True``: SQLAlchemy otherwise quotes bound values
(sealed blobs, platform message ids, sometimes more) in exception text and echo logs.

The bot passes engines and sessions around but never imports SQLAlchemy (an import
contract, docs/adr/0009-sql-in-storage.md): it names them through :data:`Engine`,
:data:`Session` and :data:`SessionFactory` from here, opens and commits transactions,
and hands the session to the repositories, which hold every statement.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from medcrypt.crypto.errors import MedCryptError, StorageError

#: What callers outside storage name the objects they pass around (ADR 0009).
SessionFactory = sessionmaker[Session]

__all__ = [
    "SQLITE_BUSY_TIMEOUT_MS",
    "SQLITE_REQUIRED_PRAGMAS",
    "Engine",
    "Session",
    "SessionFactory",
    "display_url",
    "is_sqlite",
    "job_sessions",
    "make_engine",
    "normalize_url",
    "ping",
    "session_factory",
    "sqlite_checkpoint_truncate",
    "sqlite_file",
    "sqlite_pragmas",
    "write_probe",
]

#: Milliseconds a SQLite writer waits for a lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 5000

#: Pragmas every SQLite connection must show, with the value SQLite reports back.
SQLITE_REQUIRED_PRAGMAS: dict[str, int | str] = {
    "foreign_keys": 1,
    "secure_delete": 1,
    "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
}


def normalize_url(url: str) -> str:
    """Map plain ``postgresql://`` URLs onto the psycopg 3 driver this project ships."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError("database URL is not a valid SQLAlchemy URL") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StorageError(f"unsupported database backend {parsed.get_backend_name()!r}")
    return parsed.render_as_string(hide_password=False)


def _configure_sqlite(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        mode = cursor.fetchone()
        cursor.execute("PRAGMA synchronous = NORMAL")
        problems = [
            name
            for name, want in SQLITE_REQUIRED_PRAGMAS.items()
            if _pragma(cursor, name) != want
        ]
        # In-memory databases cannot use WAL ("memory"); files must.
        if mode is None or str(mode[0]).lower() not in ("wal", "memory"):
            problems.append("journal_mode")
    finally:
        cursor.close()
    if problems:
        raise StorageError(
            "SQLite connection refused: pragma(s) did not stick: " + ", ".join(problems)
        )


def _pragma(cursor: Any, name: str) -> int | str | None:
    cursor.execute(f"PRAGMA {name}")
    row = cursor.fetchone()
    return None if row is None else row[0]


def _begin_sqlite(conn: Any) -> None:
    # pysqlite's implicit transactions defer BEGIN past the first SELECT, which breaks
    # read-then-write isolation; emit BEGIN ourselves (SQLAlchemy's documented recipe).
    conn.exec_driver_sql("BEGIN")


def make_engine(url: str, *, echo: bool = False, wal_autocheckpoint: bool = True,
                idle_in_transaction_ms: int | None = None) -> Engine:
    """Create an engine with the project's per-connection guarantees.

    ``wal_autocheckpoint=False`` (SQLite) leaves checkpoints to a
    :class:`storage.checkpointer.WalCheckpointer` the caller runs; only the bot does.

    ``idle_in_transaction_ms`` (PostgreSQL): every connection's
    ``idle_in_transaction_session_timeout``. A bot replica paused mid-transaction
    (SIGSTOP, a frozen VM) would otherwise hold its row locks - a lease row it was
    renewing, the audit head, outbox heads - until it wakes or TCP gives up, and every
    other replica would wait on them; the server now ends such a session after this
    long (the replicas' bot passes less than the role lease's TTL, ADR 0032).
    """
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, echo=echo, hide_parameters=True, connect_args={"check_same_thread": False}
        )
        event.listen(engine, "connect", _configure_sqlite)
        if not wal_autocheckpoint:
            event.listen(engine, "connect", _no_autocheckpoint)
        event.listen(engine, "connect", _disable_pysqlite_autobegin)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    engine = create_engine(url, echo=echo, hide_parameters=True)
    if idle_in_transaction_ms is not None:
        event.listen(engine, "connect",
                     functools.partial(_idle_timeout, int(idle_in_transaction_ms)))
    event.listen(engine, "connect", _note_checkin)
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", functools.partial(_ping_if_idle, engine.dialect))
    return engine


#: A pooled PostgreSQL connection that sat unused longer than this is pinged before it is
#: handed out. ``pool_pre_ping`` pinged on every checkout: one more round trip in every
#: transaction, a sixth of the bot's CPU per relayed message on PostgreSQL (issue 18). A
#: connection in steady use is proven alive by its last transaction; one that idled -
#: across a server restart, a failover, a firewall's idle timeout - is pinged, and
#: replaced if the ping fails. A connection that dies within the window fails its next
#: statement instead; SQLAlchemy then discards the pool, and the caller's retry (the
#: platform's redelivery, the worker's next round) gets a fresh connection.
IDLE_PING_SECONDS = 10.0


def _idle_timeout(ms: int, dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(f"SET idle_in_transaction_session_timeout = {ms}")
    finally:
        cursor.close()
    dbapi_conn.commit()


def _note_checkin(_dbapi_conn: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dialect: Any, dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    since = record.info.get("idle_since")
    if since is not None and time.monotonic() - since < IDLE_PING_SECONDS:
        return
    try:
        dialect.do_ping(dbapi_conn)
    except dialect.loaded_dbapi.Error as exc:  # the pool replaces the connection and retries
        raise DisconnectionError("idle connection failed its ping") from exc


def _no_autocheckpoint(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA wal_autocheckpoint = 0")


def _disable_pysqlite_autobegin(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None


def session_factory(engine: Engine) -> SessionFactory:
    """Sessions that keep loaded values usable after commit (repositories return rows)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def display_url(url: str) -> str:
    """The URL with its password masked, for output; a placeholder if it does not parse."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


def sqlite_file(url: str) -> str | None:
    """The database file a SQLite URL names (None for other backends)."""
    parsed = make_url(url)
    return parsed.database if parsed.get_backend_name() == "sqlite" else None


def ping(engine: Engine) -> str | None:
    """None when ``SELECT 1`` succeeds; otherwise the name of the driver's exception
    (never its message, which can quote values)."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, MedCryptError) as exc:
        return type(getattr(exc, "orig", None) or exc).__name__
    return None


def write_probe(engine: Engine) -> str | None:
    """None when the database takes a write; otherwise the driver exception's type name.

    ``SELECT 1`` passes on a read-only database (a file opened ``mode=ro``, a standby
    server, a ``default_transaction_read_only`` role), and the bot would then fail on
    its first message instead of at start. The write is a table created inside a
    transaction that is rolled back, so nothing is left behind on either backend.
    """
    try:
        with engine.connect() as conn:
            tx = conn.begin()
            try:
                conn.execute(text("CREATE TABLE medcrypt_write_probe (x INTEGER)"))
            finally:
                tx.rollback()
    except (SQLAlchemyError, MedCryptError) as exc:
        return type(getattr(exc, "orig", None) or exc).__name__
    return None


@contextmanager
def job_sessions(engine: Engine, cache_kib: int) -> Iterator[SessionFactory]:
    """Sessions for one batch job: on SQLite all on one pooled connection whose page
    cache is ``cache_kib`` for the run (given back at the end; one transaction per
    batch, as with :func:`session_factory`); on PostgreSQL plain sessions."""
    if not is_sqlite(engine):
        yield session_factory(engine)
        return
    with engine.connect() as conn:
        before = int(conn.exec_driver_sql("PRAGMA cache_size").scalar() or -2000)
        conn.exec_driver_sql(f"PRAGMA cache_size = {-int(cache_kib)}")
        conn.commit()
        try:
            yield sessionmaker(bind=conn, expire_on_commit=False)
        finally:
            if not conn.invalidated:
                conn.rollback()
                conn.exec_driver_sql(f"PRAGMA cache_size = {before}")
                conn.commit()


def sqlite_pragmas(engine: Engine) -> dict[str, int | str | None]:
    """Report the live pragma values of a fresh pooled connection (used by doctor)."""
    names = [*SQLITE_REQUIRED_PRAGMAS, "journal_mode"]
    with engine.connect() as conn:
        return {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in names}


def sqlite_checkpoint_truncate(engine: Engine) -> None:
    """Move every WAL frame into the main file and truncate the WAL to zero bytes.

    Run after deleting key or token rows: until then the deleted bytes also live in the
    ``-wal`` file. A busy checkpoint (a reader pinning old frames) is an error, because
    the caller is relying on the bytes being gone.
    """
    if not is_sqlite(engine):
        return
    # Raw DBAPI connection in autocommit mode: a checkpoint inside the BEGIN that the
    # engine's begin hook emits would see its own snapshot and report "busy".
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        row = cursor.fetchone()
        cursor.close()
    finally:
        raw.close()
    busy = 1 if row is None else int(row[0])
    if busy:
        raise StorageError("WAL checkpoint could not complete: a reader still holds old frames")
