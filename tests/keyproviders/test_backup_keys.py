"""Backup data keys wrapped by the key provider (docs/adr/0041), on every provider.

A backup's data key is wrapped by the provider's current root version (format 2): the
server keyring alone cannot open the file, the header names the provider, the root
version and the backup id, opening it is one provider call bound to that id, and once
the root version is destroyed (what a shred-epoch close does) the file opens under no
key left. Format-1 files (data key under the keyring) still open with a provider
configured.
"""

from __future__ import annotations

import io
import os
from typing import Any

import pytest

from medcrypt.crypto.errors import ConfigError, DecryptionFailed, KeyVersionMissing
from medcrypt.crypto.server.backup_seal import (
    ProviderWrap,
    open_stream,
    provider_context,
    read_header,
    seal_stream,
)
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.crypto.server.provider import KeyProvider, WrapContext
from tests.support.keyrigs import Rig

HEADER: dict[str, str | int | None] = {"created_us": 1_780_000_000_000_000, "dialect": "sqlite",
          "schema_revision": "0023_purpose_deks", "audit_head_seq": 7,
          "audit_head_hash": "ab" * 32}
DUMP = b"SQLite format 3\x00" + os.urandom(200_000)


class Counting:
    """The real provider, with each unwrap's context written down (not a stand-in: every
    call goes through to the service)."""

    def __init__(self, inner: KeyProvider) -> None:
        self.inner = inner
        self.name = inner.name
        self.unwraps: list[dict[str, str]] = []

    def unwrap(self, wrapped: bytes, context: WrapContext) -> bytearray:
        self.unwraps.append(dict(context))
        return self.inner.unwrap(wrapped, context)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _seal(wrapper: Any) -> bytes:
    out = io.BytesIO()
    seal_stream(wrapper, HEADER, io.BytesIO(DUMP), out)
    return out.getvalue()


def _open(sealed: bytes, keyring: Keyring, provider: Any = None) -> bytes:
    out = io.BytesIO()
    open_stream(keyring, io.BytesIO(sealed), out, provider=provider)
    return out.getvalue()


def test_the_provider_wraps_the_data_key_and_the_keyring_alone_cannot_open(
        rig: Rig) -> None:
    keyring = Keyring({1: os.urandom(32)})
    sealed = _seal(ProviderWrap(rig.bot))
    header, _raw = read_header(io.BytesIO(sealed))
    assert header["format"] == 2
    assert header["key_provider"] == rig.name
    assert header["key_version"] == rig.bot.health().root_version
    assert isinstance(header["backup_id"], str) and len(header["backup_id"]) == 32

    with pytest.raises(ConfigError, match=f"wrapped by the {rig.name} provider"):
        _open(sealed, keyring)  # the env keyring alone: refused, nothing decrypted
    counted = Counting(rig.bot)
    assert _open(sealed, keyring, counted) == DUMP
    # One provider call per opening, naming the backup (the provider's audit log line).
    assert counted.unwraps == [provider_context(str(header["backup_id"]))]


def test_each_backup_has_its_own_id_and_a_wrapped_key_does_not_move(rig: Rig) -> None:
    keyring = Keyring({1: os.urandom(32)})
    a, b = _seal(ProviderWrap(rig.bot)), _seal(ProviderWrap(rig.bot))
    ha, raw_a = read_header(io.BytesIO(a))
    hb, raw_b = read_header(io.BytesIO(b))
    assert ha["backup_id"] != hb["backup_id"]
    # b's header (its backup id) in front of a's wrapped key and stream
    moved = b[:len(raw_b) + 4 + len(b"MEDCRYPT-BACKUP\x00v1\x00")] + \
        a[len(raw_a) + 4 + len(b"MEDCRYPT-BACKUP\x00v1\x00"):]
    with pytest.raises(DecryptionFailed):
        _open(moved, keyring, rig.bot)


def test_a_destroyed_root_version_leaves_the_backup_unopenable(rig: Rig) -> None:
    keyring = Keyring({1: os.urandom(32)})
    sealed = _seal(ProviderWrap(rig.bot))
    old = rig.bot.health().root_version
    new = rig.admin.rotate()
    rig.refresh_bot()
    assert _open(sealed, keyring, rig.bot) == DUMP  # rotation alone keeps it readable
    later = _seal(ProviderWrap(rig.bot))
    assert read_header(io.BytesIO(later))[0]["key_version"] == new
    rig.admin.destroy_version(old)  # the shred-epoch close's last step
    rig.refresh_bot()
    with pytest.raises(KeyVersionMissing):
        _open(sealed, keyring, rig.bot)
    assert _open(later, keyring, rig.bot) == DUMP


def test_a_format_1_backup_still_opens_with_a_provider_configured(rig: Rig) -> None:
    keyring = Keyring({1: os.urandom(32)})
    old = _seal(keyring)
    assert read_header(io.BytesIO(old))[0]["format"] == 1
    counted = Counting(rig.bot)
    assert _open(old, keyring, counted) == DUMP
    assert counted.unwraps == []  # the keyring opened it, as before
