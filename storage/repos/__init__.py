"""Small typed repositories: the only SQL the rest of the bot needs.

Functions take an open :class:`~sqlalchemy.orm.Session` and never commit: the caller
owns the transaction, so "store the token and enqueue its delivery" is one atomic
unit. Timestamps are passed in (``now``) from the caller's injected clock. Anything
personal goes through the keyring passed in explicitly.
"""
