"""``medcrypt-breakglass``: the offline break-glass opener, a program of its own.

Two share holders run it on an offline machine to open a bundle the bot sealed to the
escrow key (docs/OPERATIONS.md, break-glass). It is the one place outside the companion
that imports opening code (``crypto.endpoint.breakglass`` and its v3 half), which is why
it is not part of ``medcrypt-bot``: the bot's import contract forbids endpoint crypto
with no exception, so nothing the bot can load decrypts (docs/adr/0000, amendment 2).
It may import the bot, for ``open --record`` on the bot host; nothing imports it.
"""
