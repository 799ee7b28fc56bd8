"""Small typed repositories: every SQL statement the bot runs.

Functions take an open :class:`~sqlalchemy.orm.Session` and never commit: the caller
owns the transaction, so "store the token and enqueue its delivery" is one atomic
unit. Timestamps are passed in (``now``) from the caller's injected clock. Anything
personal goes through the keyring passed in explicitly. What the bot calls takes and
returns plain values and frozen snapshots, never a bot type and never a live row, so
nothing outside storage changes a row except through a function here
(docs/adr/0009-sql-in-storage.md); the ORM-row helpers of ``identities`` serve storage's
own smoke run and tests. Inserts that can meet an existing row are insert-if-absent and
say whether they wrote; nothing raises ``IntegrityError`` to a caller.

The statements of the relay's per-message path are Core, built once at import with bind
parameters (``pairings.route``, ``identities.find_live``, ``inbound.record_inbound``,
``tokens.store_relayed``, ``outbox.enqueue``/``claim``/``mark_sent_many``/
``advance_status``): building a statement cost more than running it.
"""
