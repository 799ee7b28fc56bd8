"""MEDCRYPT v3 endpoint code: what holds keys (pairing, ratchet session, deposits)."""
