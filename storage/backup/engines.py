"""Dumping and loading the database, per backend: SQLite's online backup API, PostgreSQL's
``pg_dump``/``pg_restore`` in custom format.

Why these and not a file copy: copying a live SQLite file (and its ``-wal``) can catch
a half-written transaction; ``sqlite3.Connection.backup`` copies a consistent snapshot
while the bot keeps writing. ``pg_dump`` does the same for PostgreSQL from one
REPEATABLE READ snapshot; custom format is what ``pg_restore --list`` can check and
what restores into a database with ``--clean``.

Passwords never reach a command line (where ``ps`` shows them): the connection goes to
the tools as ``PG*`` environment variables. Tool output is not echoed (it can quote
rows); a failure names the tool and its exit status.
"""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from medcrypt.crypto.errors import ConfigError, StorageError
from medcrypt.storage.db import normalize_url, sqlite_file


def dialect_of(url: str) -> str:
    backend = make_url(normalize_url(url)).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError("database.url", f"backups support sqlite and postgresql, not {backend}")
    return backend


# -- SQLite ---------------------------------------------------------------------------------


def _sqlite_path(url: str) -> str:
    path = sqlite_file(normalize_url(url))
    if not path or path == ":memory:":
        raise ConfigError("database.url", "an in-memory SQLite database cannot be backed up")
    return path


def sqlite_dump(url: str, out: Path) -> None:
    """A consistent copy of the live database into ``out`` (a new file)."""
    path = _sqlite_path(url)
    if not Path(path).exists():
        raise StorageError("the SQLite database file does not exist")
    try:
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(out)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise StorageError(f"SQLite backup failed ({type(exc).__name__})") from None


def sqlite_check(dump: Path) -> None:
    """``PRAGMA integrity_check`` on a decrypted dump: pages, indexes, constraints."""
    try:
        conn = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
        try:
            result = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StorageError(f"the backup is not a readable SQLite database "
                           f"({type(exc).__name__})") from None
    if result != ["ok"]:
        raise StorageError("the backup's SQLite integrity check failed")


def sqlite_load(url: str, dump: Path) -> None:
    """Replace the live database's content with ``dump`` through the backup API (which
    takes the write lock and rewrites every page, WAL included), then truncate the WAL
    so no page of the replaced database survives there."""
    path = _sqlite_path(url)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        src = sqlite3.connect(dump)  # not read-only: a staged copy may be in WAL mode
        try:
            dst = sqlite3.connect(path, timeout=30)
            try:
                src.backup(dst)
                dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise StorageError(f"SQLite restore failed ({type(exc).__name__})") from None


# -- PostgreSQL -----------------------------------------------------------------------------


def find_pg_tool(name: str, extra_dir: str = "") -> str:
    """``pg_dump``/``pg_restore`` from ``extra_dir``, PATH, or the newest
    ``/usr/lib/postgresql/*/bin`` (Debian installs them there, off PATH)."""
    candidates = [str(Path(extra_dir) / name)] if extra_dir else []
    found = shutil.which(name)
    if found:
        candidates.append(found)
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                      key=lambda p: [int(x) if x.isdigit() else 0
                                     for x in Path(p).parent.parent.name.split(".")])
    candidates.extend(reversed(versions))
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return candidate
    raise ConfigError("backup.pg_bin_dir", f"{name} not found on PATH or in "
                                           "/usr/lib/postgresql/*/bin")


def pg_environ(url: str) -> dict[str, str]:
    """The libpq environment for ``url``: the password travels here, not in argv."""
    u = make_url(normalize_url(url))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    for var, value in (("PGHOST", u.host), ("PGPORT", u.port), ("PGUSER", u.username),
                       ("PGPASSWORD", u.password), ("PGDATABASE", u.database)):
        if value is not None:
            env[var] = str(value)
    sslmode = u.query.get("sslmode")
    if isinstance(sslmode, str):
        env["PGSSLMODE"] = sslmode
    return env


def _run(argv: list[str], env: dict[str, str] | None, what: str) -> None:
    try:
        done = subprocess.run(  # noqa: S603 - a located pg tool, fixed flags, no shell
            argv, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            check=False, timeout=6 * 3600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StorageError(f"{what} could not run ({type(exc).__name__})") from None
    if done.returncode != 0:
        raise StorageError(f"{what} failed with exit status {done.returncode}")


def pg_dump(url: str, out: Path, bin_dir: str = "") -> None:
    _run([find_pg_tool("pg_dump", bin_dir), "--format=custom", "--no-owner",
          "--no-privileges", f"--file={out}"], pg_environ(url), "pg_dump")


def pg_check(dump: Path, bin_dir: str = "") -> None:
    """``pg_restore --list``: the archive's table of contents reads end to end."""
    _run([find_pg_tool("pg_restore", bin_dir), "--list", str(dump)], None, "pg_restore --list")


def pg_load(url: str, dump: Path, bin_dir: str = "") -> None:
    """Drop and recreate every object of the dump in one transaction: a failure leaves
    the database as it was."""
    _run([find_pg_tool("pg_restore", bin_dir), "--clean", "--if-exists", "--no-owner",
          "--no-privileges", "--single-transaction", "--exit-on-error",
          f"--dbname={pg_environ(url)['PGDATABASE']}", str(dump)],
         pg_environ(url), "pg_restore")
