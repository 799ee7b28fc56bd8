"""The tree blind-index format (crypto/server/blind_index.py): pinned bytes, and the
parser of its header fed anything."""

from __future__ import annotations

import hashlib
import hmac
import struct
import unicodedata

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given
from hypothesis import strategies as st

from medcrypt.crypto.errors import MalformedToken
from medcrypt.crypto.server import blind_index as bi

DEK = bytearray(range(32))
DEK_ID = "00112233445566778899aabbccddeeff"


def _lp(part: str) -> bytes:
    """PROTOCOL's typed length prefix of a text part: u32 length | "s" | UTF-8."""
    data = b"s" + part.encode("utf-8")
    return struct.pack(">I", len(data)) + data


def test_the_index_is_the_documented_hmac_under_the_documented_subkey() -> None:
    """PROTOCOL §38a, recomputed with the libraries directly (not through the module)."""
    sub = HKDF(algorithm=hashes.SHA256(), length=32,
               salt=b"medcrypt/server-keytree/blind-index/v1",
               info=_lp("platform_identities") + _lp("address")).derive(bytes(DEK))
    mac = hmac.new(sub, unicodedata.normalize("NFC", "+15550001111").encode(),
                   hashlib.sha256).digest()
    got = bi.compute(DEK, DEK_ID, "platform_identities", "address", "+15550001111")
    assert got == b"\x00\x00" + bytes.fromhex(DEK_ID) + mac
    assert len(got) == bi.TREE_INDEX_BYTES
    assert bi.index_dek(got) == DEK_ID and bi.is_tree_index(got)


def test_columns_and_epochs_never_share_an_index() -> None:
    a = bi.compute(DEK, DEK_ID, "platform_identities", "address", "+15550001111")
    assert a != bi.compute(DEK, DEK_ID, "clinic_admins", "address", "+15550001111")
    other = bytearray(b"\x01" * 32)
    assert a[bi.PREFIX_BYTES:] != bi.compute(other, DEK_ID, "platform_identities",
                                             "address", "+15550001111")[bi.PREFIX_BYTES:]


@given(st.binary(max_size=80))
def test_the_header_parser_takes_anything(data: bytes) -> None:
    try:
        dek_id = bi.index_dek(data)
    except MalformedToken:
        assert len(data) != bi.TREE_INDEX_BYTES or data[:2] != b"\x00\x00"
    else:
        assert len(dek_id) == 32 and bytes.fromhex(dek_id) == data[2:18]


@given(st.binary(min_size=32, max_size=32), st.text(max_size=40))
def test_any_value_indexes_to_its_key(key: bytes, value: str) -> None:
    index = bi.compute(bytearray(key), DEK_ID, "t", "c", value)
    assert bi.index_dek(index) == DEK_ID
    assert index.startswith(bi.prefix(DEK_ID))


def test_a_wrong_key_or_id_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        bi.compute(bytearray(16), DEK_ID, "t", "c", "v")
    with pytest.raises(MalformedToken):
        bi.prefix("not hex")
