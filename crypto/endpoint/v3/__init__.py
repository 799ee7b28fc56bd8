"""MEDCRYPT v3 session core: the Double Ratchet in calendar months (ADR 0018) with one
escrow deposit per chain segment (ADR 0019).  Specified in docs/PROTOCOL.md §20-§29.

Pure code: time and randomness are injected, nothing here reads a clock, a file or the
network.  The companion CLI is not switched to v3 yet.
"""
