"""MEDCRYPT v2 protocol library: pure, typed, no I/O.

Safe recipes are exported by the submodules (tokens, pairing, sessions, keyring, audit);
raw primitives live in :mod:`crypto._primitives` and nowhere else.
"""
