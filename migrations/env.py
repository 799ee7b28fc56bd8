"""Alembic environment for MedCrypt bridge.

The database URL comes from, in order: a connection handed in by
:mod:`storage.migrate` (``config.attributes["connection"]``), ``-x url=...`` on the
alembic command line, the ``sqlalchemy.url`` main option, ``$MEDCRYPT_DATABASE_URL``,
and finally the default ``sqlite:///medcrypt.db`` - the same default as the bot.

Engines come from :func:`storage.db.make_engine`, so migrations run with the same
pragmas (foreign keys, secure_delete, WAL) as the bot. SQLite uses batch mode, because
it cannot ALTER most constraints in place.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy.engine import Connection

from medcrypt.storage.db import make_engine
from medcrypt.storage.models import load_all

config = context.config
target_metadata = load_all()


def _url() -> str:
    x_url = context.get_x_argument(as_dictionary=True).get("url")
    return (
        x_url
        or config.get_main_option("sqlalchemy.url")
        or os.environ.get("MEDCRYPT_DATABASE_URL")
        or "sqlite:///medcrypt.db"
    )


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=_url().startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:
        _configure(given)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
