"""The bot's database layer: SQLAlchemy 2 models, engines, migrations API, repositories.

* :mod:`storage.db` - engines (SQLite pragmas enforced per connection, psycopg 3).
* :mod:`storage.models` - one module per domain; :func:`storage.models.load_all`.
* :mod:`storage.encrypted` - sealed columns bound to table, column and row (ADR 0002).
* :mod:`storage.keys` - key-version status, coverage check and rewrap.
* :mod:`storage.migrate` - Alembic as an API (upgrade, downgrade, current, head, check).
* :mod:`storage.repos` - small typed repositories; the caller owns the transaction.

Depends on :mod:`crypto` only for the server keyring and audit crypto (import contract).
"""
