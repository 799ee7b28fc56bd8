"""What needs no secret key: token headers, parts, the epoch calendar, and sealing to a
public key (which anyone holding the public key may do, and only the private key undoes).

The relay lives on this part alone (and on :mod:`medcrypt.crypto.server` for its own
data at rest). Nothing here can open a message; a header parsed here is unverified
until an endpoint opens the token (ADR 0000).
"""
