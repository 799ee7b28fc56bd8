"""MEDCRYPT v3 endpoint code, what holds keys: key-confirmed pairing and the pinned-key
record (ADR 0020, PROTOCOL §30-§34), and the session core, the Double Ratchet in calendar
months (ADR 0018) with one escrow deposit per chain segment (ADR 0019, PROTOCOL §20-§29).

Pure code: time and randomness are injected, nothing here reads a clock, a file or the
network.  The companion CLI is not switched to v3 yet.
"""
