"""The code that holds message keys: sessions, ratchets, pairing, envelopes, attachments,
escrow deposits, the companion keystore's sealing and the offline break-glass opener.

Only the companions (and the one reviewed offline opener, ADR 0000 amendment) import
this package; an import-linter contract forbids all of it to the bot, so a new module
added here is covered without anyone remembering to list it.
"""
