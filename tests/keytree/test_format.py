"""The key tree's byte formats: sealed values and wrapped DEKs bind what they claim, and
the parsers refuse garbage with one typed error (Hypothesis)."""

from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcrypt.crypto.errors import DecryptionFailed, MalformedToken
from medcrypt.crypto.server import keytree as kt
from medcrypt.crypto.server.env_provider import EnvProvider
from medcrypt.storage.encrypted import Sealed

DEK = bytearray(range(32))
REF = kt.DekRef("0f" * 16, 3)
CELL = {"table": "platform_identities", "column": "address", "row_id": "ab" * 16}


def test_sealed_value_layout_and_round_trip() -> None:
    nonce = bytes(range(24))
    sealed = kt.seal_value(DEK, REF, b"+15551230001", rng=lambda n: nonce[:n], **CELL)
    assert sealed[:3] == b"\x00\x00\x02"
    assert sealed[3:19] == bytes.fromhex(REF.dek_id)
    assert sealed[19:23] == (3).to_bytes(4, "big")
    assert sealed[23:47] == nonce
    assert len(sealed) == 47 + len(b"+15551230001") + 16
    assert kt.sealed_dek(sealed) == REF
    assert kt.open_value(DEK, sealed, **CELL) == b"+15551230001"
    assert Sealed(sealed).version == 0 and Sealed(sealed).dek == REF


@pytest.mark.parametrize("change", ["table", "column", "row_id"])
def test_a_value_moved_to_another_cell_does_not_open(change: str) -> None:
    sealed = kt.seal_value(DEK, REF, b"x", **CELL)
    with pytest.raises(DecryptionFailed):
        kt.open_value(DEK, sealed, **{**CELL, change: "cd" * 16})


def test_a_value_relabelled_with_another_dek_version_does_not_open() -> None:
    sealed = bytearray(kt.seal_value(DEK, REF, b"x", **CELL))
    sealed[22] ^= 0x01  # version 3 -> 2 in the header
    assert kt.sealed_dek(bytes(sealed)).version == 2
    with pytest.raises(DecryptionFailed):
        kt.open_value(DEK, bytes(sealed), **CELL)


@pytest.mark.parametrize("field", ["purpose", "person_id", "dek_id", "version", "kek_id"])
def test_a_wrapped_dek_is_bound_to_purpose_person_id_version_and_kek(field: str) -> None:
    kek = bytearray(os.urandom(32))
    binding = {"purpose": "identity", "person_id": "aa" * 16, "dek_id": "bb" * 16,
               "version": 1, "kek_id": "cc" * 16}
    wrapped = kt.wrap_dek(kek, DEK, **binding)  # type: ignore[arg-type]
    assert kt.unwrap_dek(kek, wrapped, **binding) == DEK  # type: ignore[arg-type]
    other = {"purpose": "admins", "person_id": "dd" * 16, "dek_id": "ee" * 16,
             "version": 2, "kek_id": "ff" * 16}[field]
    with pytest.raises(DecryptionFailed):
        kt.unwrap_dek(kek, wrapped, **{**binding, field: other})  # type: ignore[arg-type]


def test_kek_is_unwrapped_once_per_ttl_and_zeroed_on_expiry() -> None:
    clock = [0.0]
    tree = kt.KeyTree(EnvProvider({1: os.urandom(32)}, None), monotonic=lambda: clock[0],
                      ttl_seconds=60)
    kek_id, wrapped = tree.new_kek()
    assert tree.provider_calls == 1  # the wrap
    other = kt.KeyTree(tree.root, monotonic=lambda: clock[0], ttl_seconds=60)  # a replica
    first = other.kek(kek_id, wrapped)
    held = first  # the very buffer the replica uses
    for _ in range(100):
        other.create_dek(purpose="identity", person_id=os.urandom(16).hex(),
                         kek_id=kek_id, kek_wrapped=wrapped)
    assert other.provider_calls == 1  # one unwrap, a hundred DEKs
    clock[0] = 61.0
    again = other.kek(kek_id, wrapped)
    assert other.provider_calls == 2
    assert held == bytearray(32)  # the expired copy was zeroed
    assert again is not held and again != bytearray(32)


@given(st.binary(max_size=200))
def test_parsers_refuse_garbage_with_one_typed_error(data: bytes) -> None:
    try:
        ref = kt.sealed_dek(data)
    except MalformedToken:
        pass
    else:
        assert len(ref.dek_id) == 32 and ref.version >= 1
    with contextlib.suppress(MalformedToken):
        Sealed(data).version  # noqa: B018 - the header check is the point
    with pytest.raises((MalformedToken, DecryptionFailed)):
        kt.unwrap_dek(DEK, data, purpose="p", person_id=None, dek_id="aa" * 16, version=1,
                      kek_id="k")


@given(st.binary(min_size=kt.MIN_TREE_SEALED_BYTES, max_size=120))
def test_tree_sealed_garbage_never_opens(data: bytes) -> None:
    forged = kt.SEALED_MARKER + data[3:19] + b"\x00\x00\x00\x01" + data[23:]
    with pytest.raises((DecryptionFailed, MalformedToken)):
        kt.open_value(DEK, forged, **CELL)
