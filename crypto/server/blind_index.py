"""Blind indexes under a key of the shred epoch (the key tree's ``blind-index`` DEK).

Why (issue 17, docs/adr/0039-shred-epochs.md, Amendment 1): a blind index is an HMAC of
a phone number or chat id, and those are few enough to try them all. Keyed by the server
keyring, a backup's index kept matching an erased person's number for as long as that
keyring version lived - with a PKCS#11, Transit or KMS root, until the operator rotated
``MEDCRYPT_SERVER_KEYS`` by hand. Keyed by a DEK of the shred epoch instead, the index
of a closed epoch can be computed only from that epoch's index DEK, whose KEK only a
destroyed root version opens: closing the epoch ends the link in every old backup.

This module is pure (no database): the storage layer (``medcrypt.storage.index_keys``)
reads the index DEKs in the caller's transaction and hands the keys in. Byte layout
(docs/PROTOCOL.md §38a)::

    tree index  00 00 | index DEK id 16 | HMAC-SHA256(subkey, NFC(value))      50 bytes
    subkey      HKDF-SHA256(index DEK, salt = label, info = lp(table) | lp(column))

A keyring index starts with its key version (1..65535), never ``00 00``, so both live in
one column while rows are converted. The DEK id says which epoch's key made the index:
the close recomputes every row whose id is not the current one, and lookups try every
live index DEK (two only while a close runs).
"""

from __future__ import annotations

import unicodedata

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.errors import MalformedToken
from medcrypt.crypto.server.keyring import KEY_BYTES, _lp
from medcrypt.crypto.server.keytree import DEK_ID_BYTES, _id_bytes

#: The purpose of the epoch's index DEK in ``deks`` (person NULL).
PURPOSE = "blind-index"
MARKER = b"\x00\x00"
PREFIX_BYTES = len(MARKER) + DEK_ID_BYTES
TREE_INDEX_BYTES = PREFIX_BYTES + 32
_SALT = b"medcrypt/server-keytree/blind-index/v1"


def subkey(dek: bytearray, table: str, column: str) -> bytearray:
    """The (table, column) HMAC key under an index DEK: indexes of two columns never
    correlate, and a leaked subkey reveals neither the DEK nor another column's."""
    if len(dek) != KEY_BYTES:
        raise ValueError(f"index DEKs are {KEY_BYTES} bytes")
    return bytearray(prim.hkdf_sha256(dek, salt=_SALT, info=_lp(table) + _lp(column),
                                      length=KEY_BYTES))


def prefix(dek_id: str) -> bytes:
    """The first bytes of every index made under ``dek_id`` (what the close selects on)."""
    return MARKER + _id_bytes(dek_id)


def compute(dek: bytearray, dek_id: str, table: str, column: str, normalized: str) -> bytes:
    """The blind index of an already-normalized value under one index DEK."""
    key = subkey(dek, table, column)
    try:
        return under(key, dek_id, normalized)
    finally:
        prim.wipe(key)


def under(column_key: bytearray, dek_id: str, normalized: str) -> bytes:
    """The blind index under a (table, column) :func:`subkey` already derived: a close
    recomputing a batch derives the subkey once, not once per row."""
    mac = prim.hmac_sha256(column_key, unicodedata.normalize("NFC", normalized).encode("utf-8"))
    return prefix(dek_id) + mac


def is_tree_index(index: bytes) -> bool:
    """Whether ``index`` was made under an index DEK (else under a keyring version)."""
    return index[:len(MARKER)] == MARKER


def index_dek(index: bytes) -> str:
    """The id of the index DEK a tree index names (no key needed)."""
    if len(index) != TREE_INDEX_BYTES or not is_tree_index(index):
        raise MalformedToken("not a tree blind index")
    return index[len(MARKER):PREFIX_BYTES].hex()
