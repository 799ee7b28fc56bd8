"""Fresh, empty databases on each backend.

A temporary SQLite file always, and a throw-away database on the real PostgreSQL
server named by ``MEDCRYPT_TEST_PG_URL``: scripts/test.sh starts one server per run
(never one per xdist worker) and every test gets its own database on it. Without that
variable the PostgreSQL half is skipped - except under CI (MEDCRYPT_REQUIRE_PG=1),
where a missing server is a failure, so CI can never go green on SQLite alone.

Templates: a state that many tests start from and that is costly to build (a migrated
schema, a 10,000-entry audit log) is built once per worker through the real code paths
(:func:`sqlite_template`, :func:`postgres_template`) and each test gets its own copy - a
file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL. The copy is the same
bytes the build wrote; no test sees another test's changes.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PG_URL = os.environ.get("MEDCRYPT_TEST_PG_URL", "")
REQUIRE_PG = os.environ.get("MEDCRYPT_REQUIRE_PG") == "1"


def pg_admin_url() -> str:
    """The server's URL, or skip (fail under CI) when there is no server."""
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("MEDCRYPT_REQUIRE_PG=1 but MEDCRYPT_TEST_PG_URL is not set")
        pytest.skip("no PostgreSQL server (set MEDCRYPT_TEST_PG_URL)")
    return PG_URL


@contextmanager
def fresh_postgres_database(template: str | None = None) -> Iterator[str]:
    """A new database on the run's server (a copy of ``template`` if given, see
    :func:`postgres_template`), dropped afterwards (its sessions ended)."""
    import sqlalchemy as sa

    admin_url = pg_admin_url()
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    if template is None and _EMPTIED:
        name = _EMPTIED.pop()
    else:
        name = f"medcrypt_test_{secrets.token_hex(6)}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'
                                 + (f' TEMPLATE "{template}"' if template else "")))
    url = _database_url(admin_url, name)
    _FRESH[url] = name
    try:
        yield url
    finally:
        _FRESH.pop(url, None)
        if _emptied(admin, name, url):
            _EMPTIED.append(name)
        else:
            _drop(admin, name)
        admin.dispose()


#: Databases a test is done with, emptied again for the next (:func:`_emptied`).
_EMPTIED: list[str] = []


def _emptied(admin: object, name: str, url: str) -> bool:
    """Empty a used database the way CREATE DATABASE leaves one, or say it cannot.

    CREATE DATABASE costs ~0.3 s of the server's time (it copies template1); dropping
    the ``public`` schema with everything in it and making it again as it was (owner and
    grants read back first) costs ~20 ms. A database with anything outside ``public``
    (another schema, a large object) is dropped instead, and so is one still in use.
    """
    import sqlalchemy as sa

    assert isinstance(admin, sa.Engine)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
            ), {"n": name})
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool,
                                  isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                other = conn.execute(sa.text(
                    "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'"
                    " AND nspname NOT IN ('public', 'information_schema'))"
                    " + (SELECT count(*) FROM pg_largeobject_metadata)"
                    " + (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid())")).scalar()
                if other:
                    return False
                owner = conn.execute(sa.text(
                    "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'public'"
                )).scalar()
                grants = conn.execute(sa.text(
                    "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident("
                    "a.grantee::regrole::text) END, a.privilege_type FROM pg_namespace n, "
                    "aclexplode(n.nspacl) a WHERE n.nspname = 'public' AND a.grantee <> n.nspowner"
                )).all()
                if owner is None:
                    return False
                # Autocommit: a failure half-way raises, and the database is dropped.
                conn.execute(sa.text("DROP SCHEMA public CASCADE"))
                conn.execute(sa.text(f"CREATE SCHEMA public AUTHORIZATION {_quoted(owner)}"))
                for grantee, privilege in grants:
                    conn.execute(sa.text(f"GRANT {privilege} ON SCHEMA public TO {grantee}"))
        finally:
            engine.dispose()
    except sa.exc.SQLAlchemyError:
        return False
    return True


def _quoted(role: str) -> str:
    return role if role.startswith('"') else f'"{role}"'


def _database_url(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


def _drop(admin: object, name: str) -> None:
    import sqlalchemy as sa

    assert isinstance(admin, sa.Engine)
    with admin.connect() as conn:
        conn.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
        ), {"n": name})
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))


#: Databases made by :func:`fresh_postgres_database` that are open now, by URL.
_FRESH: dict[str, str] = {}
_PG_TEMPLATES: dict[str, str] = {}


def _drop_emptied() -> None:
    if not _EMPTIED or not PG_URL:
        return
    import sqlalchemy as sa

    engine = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        for name in _EMPTIED:
            _drop(engine, name)
    except sa.exc.OperationalError:
        pass  # the run's server is already gone with everything on it
    finally:
        engine.dispose()


atexit.register(_drop_emptied)
_SQLITE_TEMPLATES: dict[str, Path] = {}


def postgres_template(key: str, build: Callable[[str], None]) -> str:
    """The name of this worker's template database ``key``, built by ``build(url)`` on
    first use; pass it to :func:`fresh_postgres_database`. ``build`` must close what it
    opened (a template with a session on it cannot be copied); it is dropped at exit."""
    if key in _PG_TEMPLATES:
        return _PG_TEMPLATES[key]
    import sqlalchemy as sa

    admin_url = pg_admin_url()
    name = f"medcrypt_template_{secrets.token_hex(6)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        build(_database_url(admin_url, name))
    except BaseException:
        _drop(admin, name)
        raise
    finally:
        admin.dispose()

    def drop() -> None:
        engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        try:
            _drop(engine, name)
        except sa.exc.OperationalError:
            pass  # the run's server is already gone with everything on it
        finally:
            engine.dispose()

    atexit.register(drop)
    _PG_TEMPLATES[key] = name
    return name


def sqlite_template(key: str, build: Callable[[str], None], dest: Path) -> str:
    """A copy at ``dest`` of this worker's SQLite template ``key`` (built by
    ``build(url)`` on first use); returns its URL."""
    src = _SQLITE_TEMPLATES.get(key)
    if src is None:
        folder = Path(tempfile.mkdtemp(prefix="medcrypt-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        src = folder / "template.db"
        build(f"sqlite:///{src}")
        _checkpoint(src)
        _SQLITE_TEMPLATES[key] = src
    shutil.copyfile(src, dest)
    return f"sqlite:///{dest}"


def _checkpoint(path: Path) -> None:
    """Move the WAL into the file, so the file alone is the whole database."""
    import sqlite3

    con = sqlite3.connect(path)
    try:
        busy = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    finally:
        con.close()
    wal = path.with_name(path.name + "-wal")
    if busy or (wal.exists() and wal.stat().st_size):
        raise RuntimeError(f"template {path} is still in use: close what built it")


def _upgrade(url: str) -> None:
    from medcrypt.storage import migrate

    migrate.upgrade(url)


@contextmanager
def migrated_postgres_database() -> Iterator[str]:
    """A new database on the run's server at the newest revision (a copy of this
    worker's template, which the real ``migrate.upgrade`` built), dropped afterwards."""
    with fresh_postgres_database(postgres_template(_head_key(), _upgrade)) as url:
        yield url


def _head_key() -> str:
    from medcrypt.storage import migrate

    return f"migrated-{migrate.head()}"


def migrated(url: str) -> str:
    """Bring a new, empty test database at ``url`` to the newest revision; returns ``url``.

    What ``migrate.upgrade(url)`` would leave, from this worker's template (built by the
    real ``migrate.upgrade``): a missing or empty SQLite file becomes a copy of it; an
    untouched database of :func:`fresh_postgres_database` is made again from it. Any
    other database (tables already there, a session open on it) is migrated for real.
    Tests of the migrations themselves call ``migrate.upgrade``.
    """
    from medcrypt.storage import migrate

    key = _head_key()
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists() or path.stat().st_size == 0:
            sqlite_template(key, _upgrade, path)
            return url
    elif url in _FRESH and _untouched(url):
        import sqlalchemy as sa

        template = postgres_template(key, _upgrade)
        admin = sa.create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE "{_FRESH[url]}"'))
                conn.execute(sa.text(f'CREATE DATABASE "{_FRESH[url]}" TEMPLATE "{template}"'))
        finally:
            admin.dispose()
        return url
    migrate.upgrade(url)
    return url


def _untouched(url: str) -> bool:
    """No table in it and no session on it but the one asking."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            tables = conn.execute(sa.text(
                "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")).scalar()
            others = conn.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()")).scalar()
    finally:
        engine.dispose()
    return tables == 0 and others == 0
