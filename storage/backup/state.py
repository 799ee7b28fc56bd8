"""What ``backup`` needs to know about the configured database before it touches it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from medcrypt.crypto.errors import MedCryptError, StorageError
from medcrypt.storage import migrate
from medcrypt.storage.audit.records import HEAD
from medcrypt.storage.backup.engines import dialect_of
from medcrypt.storage.db import make_engine, normalize_url, sqlite_file

__all__ = ["audit_head_or_none", "dialect_of", "require_head", "sqlite_url"]


def require_head(url: str) -> None:
    """A backup is taken of a database at the newest schema only: ``restore`` migrates
    older backups forward, never a newer one back."""
    at, want = migrate.current(url), migrate.head()
    if at != want:
        raise StorageError(f"database schema is at {at or 'empty'}, expected {want}: run "
                           "`medcrypt-bot migrate` first")


def audit_head_or_none(url: str) -> int | None:
    """The audit head seq of the database a restore is about to replace, or None when
    it cannot be read (gone, damaged, never migrated): the end of the lost range."""
    path = sqlite_file(normalize_url(url)) if dialect_of(url) == "sqlite" else None
    if path is not None and not Path(path).exists():
        return None  # do not create an empty file by connecting
    try:
        engine = make_engine(url)
    except (MedCryptError, SQLAlchemyError):
        return None
    try:
        with engine.connect() as conn:
            seq = conn.execute(HEAD.select().with_only_columns(HEAD.c.seq)).scalar()
        return None if seq is None else int(seq)
    except (MedCryptError, SQLAlchemyError):
        return None
    finally:
        engine.dispose()


def sqlite_url(path: Path) -> str:
    """The URL of a staged SQLite file (absolute: ``sqlite:////abs/path``)."""
    return f"sqlite:///{path.resolve()}"
