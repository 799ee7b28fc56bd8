"""The server keyring: field-level encryption of the bot's personal data at rest.

The bot stores phone numbers, chat ids and labels (DESIGN §3.6). They are sealed field by
field under a *versioned* keyring read from ``MEDCRYPT_SERVER_KEYS="2:<b64>,1:<b64>"``:
the highest version seals, every listed version opens, so keys rotate without downtime
(add v2, run ``medcrypt-bot keys rewrap``, remove v1).

Sealed value layout (all integers big-endian)::

    version u16 | nonce 24 bytes | XChaCha20-Poly1305 ciphertext + 16-byte tag

The associated data binds the format label, the key version and the caller's context
parts (table, column, row id), each length-prefixed, so a value copied to another row
or column - or re-labelled with another version - fails as :class:`DecryptionFailed`.

Nothing is used raw: each master key is expanded with HKDF-SHA256 into one subkey per
purpose - one sealing key, and one blind-index key per (table, column) - so a leaked
blind-index key reveals nothing about sealed values and indexes of different columns
cannot be correlated. Blind indexes are ``version u16 | HMAC-SHA256``; lookups try every
configured version, and ``rewrap`` moves them to the current one.

Key material lives in :class:`bytearray` objects that :meth:`Keyring.wipe` zeroes.
The AEAD, HKDF and HMAC calls go through :mod:`crypto._primitives` (XChaCha20-Poly1305
from libsodium for short values); the libraries take ``bytes``, so each call makes a
short-lived immutable copy of a key - the limit of what Python allows.
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.errors import ConfigError, KeyVersionMissing, MalformedToken

#: Environment variable the keyring is read from (bot.config names it; this is the default).
ENV_VAR = "MEDCRYPT_SERVER_KEYS"
KEY_BYTES = 32
NONCE_BYTES = 24
TAG_BYTES = 16
VERSION_BYTES = 2
HEADER_BYTES = VERSION_BYTES + NONCE_BYTES
MIN_SEALED_BYTES = HEADER_BYTES + TAG_BYTES
BLIND_INDEX_BYTES = VERSION_BYTES + 32
MAX_VERSION = 0xFFFF
#: Longest environment value accepted: 64 keys is far beyond any sane rotation history.
MAX_ENV_CHARS = 64 * 64

_FORMAT_LABEL = b"medcrypt/server-keyring/v1"
_HKDF_SALT = b"medcrypt/server-keyring/hkdf-salt/v1"
_SEAL_INFO = b"medcrypt/server-keyring/seal/v1"
_BLIND_INFO = b"medcrypt/server-keyring/blind-index/v1"
#: First context part of a wrapped data key: a wrapped key never opens as a sealed column.
_WRAP_LABEL = "medcrypt/server-keyring/wrapped-data-key/v1"

AadPart = bytes | str | int


def _lp(part: AadPart) -> bytes:
    """Length-prefix one context part so ("ab","c") and ("a","bc") never collide."""
    if isinstance(part, bool):  # bool is an int; a flag is never a row id
        raise TypeError("AAD parts must be bytes, str or int")
    if isinstance(part, int):
        data = b"i" + str(part).encode("ascii")
    elif isinstance(part, str):
        data = b"s" + part.encode("utf-8")
    elif isinstance(part, bytes):
        data = b"b" + part
    else:
        raise TypeError("AAD parts must be bytes, str or int")
    return struct.pack(">I", len(data)) + data


def encode_aad(version: int, parts: Sequence[AadPart]) -> bytes:
    """The associated data for ``version`` and the caller's context parts."""
    return (
        _lp(_FORMAT_LABEL)
        + struct.pack(">H", version)
        + struct.pack(">I", len(parts))
        + b"".join(_lp(p) for p in parts)
    )


def parse_server_keys(text: str, *, env_name: str = ENV_VAR) -> dict[int, bytearray]:
    """Parse ``"2:<base64>,1:<base64>"`` into ``{version: key}``.

    Every problem is a :class:`ConfigError` naming ``env_name`` and the position of the
    bad entry - never the key material itself.
    """
    if len(text) > MAX_ENV_CHARS:
        raise ConfigError(env_name, "value is implausibly long")
    entries = [e.strip() for e in text.strip().split(",")]
    if entries == [""]:
        raise ConfigError(env_name, "no keys configured (expected 'version:base64key,...')")
    keys: dict[int, bytearray] = {}
    for position, entry in enumerate(entries, start=1):
        where = f"entry {position}"
        version_text, sep, b64 = entry.partition(":")
        version_text = version_text.strip()
        if not sep:
            raise ConfigError(env_name, f"{where}: expected 'version:base64key'")
        if not version_text.isascii() or not version_text.isdigit():
            raise ConfigError(env_name, f"{where}: version must be a decimal integer")
        version = int(version_text)
        if not 1 <= version <= MAX_VERSION:
            raise ConfigError(env_name, f"{where}: version must be between 1 and {MAX_VERSION}")
        if version in keys:
            raise ConfigError(env_name, f"{where}: duplicate key version {version}")
        key = _decode_key(b64.strip(), env_name, where)
        keys[version] = key
    return keys


def _decode_key(b64: str, env_name: str, where: str) -> bytearray:
    if not b64 or not b64.isascii():
        raise ConfigError(env_name, f"{where}: key is not base64")
    padded = b64 + "=" * (-len(b64) % 4)
    try:
        if "-" in b64 or "_" in b64:
            raw = base64.urlsafe_b64decode(padded.encode("ascii"))
        else:
            raw = base64.b64decode(padded.encode("ascii"), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(env_name, f"{where}: key is not base64") from None
    if len(raw) != KEY_BYTES:
        raise ConfigError(env_name, f"{where}: key must be {KEY_BYTES} bytes, got {len(raw)}")
    return bytearray(raw)


def sealed_version(sealed: bytes) -> int:
    """The key version a sealed value claims, without opening it (for status/rewrap)."""
    if len(sealed) < MIN_SEALED_BYTES:
        raise MalformedToken("sealed value too short")
    version: int = struct.unpack_from(">H", sealed)[0]
    if version == 0:
        raise MalformedToken("sealed value names key version 0")
    return version


def blind_index_version(index: bytes) -> int:
    """The key version a blind index was computed under."""
    if len(index) != BLIND_INDEX_BYTES:
        raise MalformedToken("blind index has the wrong length")
    version: int = struct.unpack_from(">H", index)[0]
    return version


def _hkdf(master: bytearray, info: bytes) -> bytearray:
    return bytearray(prim.hkdf_sha256(master, salt=_HKDF_SALT, info=info, length=KEY_BYTES))


class Keyring:
    """Versioned server keys: the highest version seals, every version opens."""

    def __init__(
        self, keys: Mapping[int, bytes | bytearray], *, env_name: str = ENV_VAR
    ) -> None:
        if not keys:
            raise ConfigError(env_name, "no keys configured")
        self._env_name = env_name
        self._seal_keys: dict[int, bytearray] = {}
        self._masters: dict[int, bytearray] = {}
        self._blind_keys: dict[tuple[int, str, str], bytearray] = {}
        for version, key in keys.items():
            if not 1 <= version <= MAX_VERSION:
                raise ConfigError(env_name, f"version {version} out of range")
            if len(key) != KEY_BYTES:
                raise ConfigError(env_name, f"version {version}: key must be {KEY_BYTES} bytes")
            master = bytearray(key)
            self._masters[version] = master
            self._seal_keys[version] = _hkdf(master, _SEAL_INFO)
        self.current_version = max(self._masters)
        #: The key tree (``medcrypt.crypto.server.keytree.KeyTree``) that seals per-person
        #: columns; the composition root sets it, ``storage.deks.tree_of`` defaults it.
        self.tree: Any = None

    @classmethod
    def from_env_value(cls, text: str, *, env_name: str = ENV_VAR) -> Keyring:
        keys = parse_server_keys(text, env_name=env_name)
        try:
            return cls(keys, env_name=env_name)
        finally:
            for key in keys.values():
                _zero(key)

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str] | None = None, *, env_name: str = ENV_VAR
    ) -> Keyring:
        env = os.environ if environ is None else environ
        text = env.get(env_name, "")
        if not text.strip():
            raise ConfigError(env_name, "environment variable is not set")
        return cls.from_env_value(text, env_name=env_name)

    def master_keys(self) -> dict[int, bytearray]:
        """Copies of the master keys (the caller wipes them): the ``env`` provider that
        roots the key tree when no other provider is configured is built from them."""
        return {v: bytearray(k) for v, k in self._masters.items()}

    @property
    def versions(self) -> tuple[int, ...]:
        """Configured versions, highest (current) first."""
        return tuple(sorted(self._masters, reverse=True))

    def seal(
        self,
        plaintext: bytes,
        aad_parts: Sequence[AadPart],
        *,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> bytes:
        """Encrypt under the current version, binding ``aad_parts`` (table, column, row)."""
        version = self.current_version
        key = self._seal_keys.get(version)
        if key is None:
            raise KeyVersionMissing("keyring has been wiped")
        nonce = rng(NONCE_BYTES)
        if len(nonce) != NONCE_BYTES:
            raise ValueError("rng returned the wrong number of bytes")
        ciphertext = prim.xchacha_encrypt(key, nonce, plaintext, encode_aad(version, aad_parts))
        return struct.pack(">H", version) + nonce + ciphertext

    def open(self, sealed: bytes, aad_parts: Sequence[AadPart]) -> bytes:
        """Decrypt a sealed value; the context must be exactly the one it was sealed with."""
        version = sealed_version(sealed)
        key = self._seal_keys.get(version)
        if key is None:
            raise KeyVersionMissing(
                f"value is sealed under server key version {version}, "
                f"which is not configured in {self._env_name}"
            )
        nonce = sealed[VERSION_BYTES:HEADER_BYTES]
        return prim.xchacha_decrypt(
            key, nonce, sealed[HEADER_BYTES:], encode_aad(version, aad_parts)
        )

    def wrap_key(self, data_key: bytes | bytearray, context: Sequence[AadPart]) -> bytes:
        """Wrap a data key (a backup's, format 1) under the current version, bound to
        ``context``. With a key provider other than ``env`` backups use the provider
        instead (:class:`crypto.server.backup_seal.ProviderWrap`, docs/adr/0041); this
        stays for ``env`` and for opening older backups.
        """
        if len(data_key) != KEY_BYTES:
            raise ValueError(f"data keys are {KEY_BYTES} bytes")
        return self.seal(bytes(data_key), (_WRAP_LABEL, *context))

    def unwrap_key(self, wrapped: bytes, context: Sequence[AadPart]) -> bytearray:
        """Inverse of :meth:`wrap_key`; another context or a changed byte is
        :class:`DecryptionFailed`, a retired version :class:`KeyVersionMissing`."""
        key = bytearray(self.open(wrapped, (_WRAP_LABEL, *context)))
        if len(key) != KEY_BYTES:
            raise MalformedToken("wrapped data key has the wrong length")
        return key

    def needs_rewrap(self, sealed: bytes) -> bool:
        return sealed_version(sealed) != self.current_version

    def blind_index(
        self, table: str, column: str, normalized: str, *, version: int | None = None
    ) -> bytes:
        """HMAC-SHA256 of a normalized value under the (table, column) subkey of ``version``."""
        v = self.current_version if version is None else version
        key = self._blind_key(v, table, column)
        data = unicodedata.normalize("NFC", normalized).encode("utf-8")
        return struct.pack(">H", v) + prim.hmac_sha256(key, data)

    def blind_index_candidates(self, table: str, column: str, normalized: str) -> list[bytes]:
        """The index under every configured version: lookups match rows not yet rewrapped."""
        return [self.blind_index(table, column, normalized, version=v) for v in self.versions]

    def _blind_key(self, version: int, table: str, column: str) -> bytearray:
        cache_key = (version, table, column)
        key = self._blind_keys.get(cache_key)
        if key is None:
            master = self._masters.get(version)
            if master is None:
                raise KeyVersionMissing(
                    f"server key version {version} is not configured in {self._env_name}"
                )
            info = _BLIND_INFO + _lp(table) + _lp(column)
            key = _hkdf(master, info)
            self._blind_keys[cache_key] = key
        return key

    def wipe(self) -> None:
        """Zero every key byte this keyring holds; it is unusable afterwards."""
        for store in (self._masters, self._seal_keys, self._blind_keys):
            for key in store.values():
                _zero(key)
        self._seal_keys.clear()
        self._blind_keys.clear()
        self._masters.clear()

    def __repr__(self) -> str:
        return f"Keyring(versions={list(self.versions)})"


def _zero(buf: bytearray) -> None:
    prim.wipe(buf)


def generate_key(rng: Callable[[int], bytes] = os.urandom) -> str:
    """A fresh base64 key for ``MEDCRYPT_SERVER_KEYS`` (used by ``keys generate``)."""
    return base64.b64encode(rng(KEY_BYTES)).decode("ascii")


def format_server_keys(entries: Iterable[tuple[int, str]]) -> str:
    """Render ``[(version, base64)]`` in the environment format, highest first."""
    return ",".join(f"{v}:{b64}" for v, b64 in sorted(entries, reverse=True))
