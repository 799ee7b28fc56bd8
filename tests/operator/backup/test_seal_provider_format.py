"""Format 2 of the backup envelope (data key wrapped by a key provider), parsed from
hostile bytes: whatever the public header says, opening fails with a typed error and
never decrypts under a key the header did not name (docs/adr/0041).

The provider here is ``env`` (keys in this process), so the properties run fast; the
same format on PKCS#11, Transit and KMS is tests/keyproviders/test_backup_keys.py.
"""

from __future__ import annotations

import io
import json
import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medcrypt.crypto.errors import (
    ConfigError,
    DecryptionFailed,
    KeyVersionMissing,
    MalformedToken,
)
from medcrypt.crypto.server.backup_seal import (
    MAGIC,
    ProviderWrap,
    encode_header,
    open_stream,
    read_header,
    seal_stream,
)
from medcrypt.crypto.server.env_provider import EnvProvider
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.storage.backup.archive import BackupInfo

PROVIDER = EnvProvider({1: os.urandom(32)}, None)
RING = Keyring({1: os.urandom(32)})
HEADER: dict[str, str | int | None] = {"created_us": 1_780_000_000_000_000, "dialect": "sqlite",
          "schema_revision": "0023_purpose_deks", "audit_head_seq": 7,
          "audit_head_hash": "ab" * 32}
DUMP = os.urandom(3000)


def _sealed() -> bytes:
    out = io.BytesIO()
    seal_stream(ProviderWrap(PROVIDER), HEADER, io.BytesIO(DUMP), out)
    return out.getvalue()


SEALED = _sealed()
_, RAW = read_header(io.BytesIO(SEALED))
REAL = json.loads(RAW)


def _with_header(header: dict[str, object]) -> bytes:
    raw = encode_header(header)  # type: ignore[arg-type]
    rest = SEALED[len(MAGIC) + 4 + len(RAW):]
    return MAGIC + struct.pack(">I", len(raw)) + raw + rest


def test_the_real_header_opens_and_parses() -> None:
    out = io.BytesIO()
    assert open_stream(RING, io.BytesIO(SEALED), out, provider=PROVIDER) == REAL
    assert out.getvalue() == DUMP
    info = BackupInfo.from_header(REAL)
    assert (info.key_provider, info.key_version, info.backup_id) == (
        "env", 1, REAL["backup_id"])


VALUES = st.one_of(st.none(), st.integers(-3, 70_000), st.text(max_size=40),
                   st.sampled_from(["env", "pkcs11", "transit", "kms", "keyring"]),
                   st.binary(min_size=16, max_size=16).map(bytes.hex))


@settings(max_examples=150, deadline=None)
@given(changes=st.dictionaries(
    st.sampled_from(["format", "key_provider", "key_version", "backup_id", "dialect",
                     "created_us", "extra"]), VALUES, min_size=1, max_size=4))
def test_any_edited_header_fails_typed(changes: dict[str, object]) -> None:
    header = {**REAL, **changes}
    if header == REAL:
        return
    try:
        sealed = _with_header(header)
    except (TypeError, ValueError):
        return  # not a header the writer can produce at all
    with pytest.raises((MalformedToken, ConfigError, DecryptionFailed, KeyVersionMissing)):
        open_stream(RING, io.BytesIO(sealed), io.BytesIO(), provider=PROVIDER)


@settings(max_examples=150, deadline=None)
@given(header=st.dictionaries(st.sampled_from(
    ["format", "created_us", "dialect", "schema_revision", "audit_head_seq",
     "audit_head_hash", "key_provider", "key_version", "backup_id"]), VALUES))
def test_backup_info_takes_a_header_or_refuses_it_typed(header: dict[str, object]) -> None:
    try:
        info = BackupInfo.from_header(header)  # type: ignore[arg-type]
    except MalformedToken:
        return
    assert header["format"] in (1, 2) and type(header["format"]) is int
    assert info.dialect in ("sqlite", "postgresql")


@settings(max_examples=150, deadline=None)
@given(body=st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.text(max_size=10)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                  max_size=3),
    max_leaves=8))
def test_any_json_header_is_read_or_refused_typed(body: object) -> None:
    """read_header on any JSON: a header dict of flat values, or MalformedToken (nested
    and float values used to escape as TypeError)."""
    raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode("ascii")
    try:
        header, got = read_header(io.BytesIO(MAGIC + struct.pack(">I", len(raw)) + raw))
    except MalformedToken:
        return
    assert got == raw and isinstance(header, dict)
    assert all(v is None or isinstance(v, str | int) for v in header.values())
