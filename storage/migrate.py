"""Schema migrations as a library: what ``medcrypt-bot migrate`` and doctor call.

The Alembic scripts are located through ``migrations.__file__``, not a path relative
to the working directory or an ``alembic.ini``, so this works from an installed wheel.
Each call opens its own engine (with the project's pragmas) and hands the connection
to ``env.py``.

:func:`check` is ``alembic check`` as an API: it compares the models' metadata with the
live schema using autogenerate's ``compare_metadata`` and raises :class:`StorageError`
listing the differences, so CI can prove that models and migrations agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine

from medcrypt import migrations
from medcrypt.crypto.errors import StorageError
from medcrypt.storage.db import make_engine
from medcrypt.storage.models import load_all


def _script_location() -> str:
    return str(Path(migrations.__file__).resolve().parent)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", _script_location())
    return cfg


@contextmanager
def _connected(url: str) -> Iterator[tuple[Config, Connection]]:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            yield cfg, conn
    finally:
        engine.dispose()


def upgrade(url: str, rev: str = "head") -> None:
    """Upgrade the database at ``url`` to ``rev`` (default: the newest revision)."""
    with _connected(url) as (cfg, _conn):
        try:
            command.upgrade(cfg, rev)
        except CommandError as exc:
            raise StorageError(f"migration to {rev!r} failed: {exc}") from None


def downgrade(url: str, rev: str) -> None:
    """Downgrade to ``rev`` (``"base"`` drops every table this project created)."""
    with _connected(url) as (cfg, _conn):
        try:
            command.downgrade(cfg, rev)
        except CommandError as exc:
            raise StorageError(f"downgrade to {rev!r} failed: {exc}") from None


def current(url: str) -> str | None:
    """The revision the database is at; ``None`` for an unmigrated database."""
    engine = make_engine(url)
    try:
        return current_on(engine)
    finally:
        engine.dispose()


def current_on(engine: Engine) -> str | None:
    """:func:`current` on an open engine (the running bot's readiness probe, which must
    not build an engine per probe)."""
    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    if len(heads) > 1:
        raise StorageError(f"database has several migration heads: {', '.join(heads)}")
    return heads[0] if heads else None


def head() -> str:
    """The newest revision shipped with this version of the code."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise StorageError(f"migrations have {len(heads)} heads; expected exactly one")
    return heads[0]


def diff(url: str) -> list[Any]:
    """Differences between the models and the live schema (empty when they agree)."""
    metadata = load_all()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "target_metadata": metadata}
            )
            return list(compare_metadata(ctx, metadata))
    finally:
        engine.dispose()


def check(url: str) -> None:
    """Raise :class:`StorageError` unless the database at ``url`` matches the models."""
    found = diff(url)
    if found:
        shown = "; ".join(_describe(d) for d in found[:10])
        more = f" (+{len(found) - 10} more)" if len(found) > 10 else ""
        raise StorageError(f"models and database schema differ: {shown}{more}")


def _describe(change: Any) -> str:
    """One short line per autogenerate diff entry (no data, only schema names)."""
    if isinstance(change, tuple) and change:
        op = change[0]
        target = change[1] if len(change) > 1 else None
        name = getattr(target, "name", None)
        table = getattr(getattr(target, "table", None), "name", None)
        where = ".".join(str(p) for p in (table, name) if p) or str(target)
        return f"{op} {where}"
    if isinstance(change, list) and change:  # modify_* entries come grouped
        first = change[0]
        return f"{first[0]} {first[2]}.{first[3]}" if len(first) > 3 else str(first[0])
    return str(change)
