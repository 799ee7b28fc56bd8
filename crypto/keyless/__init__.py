"""What anyone may read without a key: token headers, parts, the epoch calendar.

The relay lives on this part alone (and on :mod:`medcrypt.crypto.server` for its own
data at rest). Nothing here can open a message; a header parsed here is unverified
until an endpoint opens the token (ADR 0000).
"""
