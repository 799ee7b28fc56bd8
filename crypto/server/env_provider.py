"""The ``env`` key provider: today's keys, read from environment variables.

For development, the demo and small installs (ADR 0033). The root keys are the server
keyring's versioned keys (``MEDCRYPT_SERVER_KEYS``), each expanded with HKDF into a
wrapping key of its own - a wrapped value never opens as a sealed column and the other
way round - and the checkpoint key is the Ed25519 seed of ``MEDCRYPT_AUDIT_SIGNING_KEY``.
Both live in this process's memory: whoever reads the bot's environment holds them, which
is exactly what the other providers exist to prevent.

Wrapped layout: ``"E1" | version u16 | nonce 24 | XChaCha20-Poly1305(ct + tag)`` with the
header and the canonical context as associated data.

:meth:`EnvProvider.rotate` and :meth:`EnvProvider.destroy_version` change the keys held
in memory only: the environment is the operator's to edit (``keys generate`` makes a
key), so a version rotated here lives until the process exits - for tests and the demo.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable, Mapping

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.errors import (
    ConfigError,
    KeyVersionMissing,
    MalformedToken,
    ProviderDenied,
)
from medcrypt.crypto.server.keyring import KEY_BYTES, NONCE_BYTES, parse_server_keys
from medcrypt.crypto.server.provider import (
    MAX_WRAP_BYTES,
    ProviderHealth,
    WrapContext,
    encode_context,
    split_wrapped,
    wrap_header,
)

TAG = b"E1"
_HKDF_SALT = b"medcrypt/key-provider/env/hkdf-salt/v1"
_WRAP_INFO = b"medcrypt/key-provider/env/wrap/v1"


class EnvProvider:
    """Root keys and the checkpoint seed from the environment, held in memory."""

    name = "env"

    def __init__(
        self, root_keys: Mapping[int, bytes | bytearray], signing_seed: bytes | None, *,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if not root_keys:
            raise ConfigError("keys.provider", "the env provider needs at least one root key")
        self._rng = rng
        self._keys: dict[int, bytearray] = {}
        for version, key in root_keys.items():
            if len(key) != KEY_BYTES:
                raise ConfigError("keys.provider", f"root version {version} is not 32 bytes")
            self._keys[version] = bytearray(prim.hkdf_sha256(
                key, salt=_HKDF_SALT, info=_WRAP_INFO, length=KEY_BYTES))
        self._signer = prim.Ed25519Signer(signing_seed) if signing_seed is not None else None
        self._public = prim.ed25519_public(signing_seed) if signing_seed is not None else None

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str], *, keys_env: str, signing_env: str,
    ) -> EnvProvider:
        """Read both variables; a missing or malformed one is a :class:`ConfigError`."""
        text = environ.get(keys_env, "")
        if not text.strip():
            raise ConfigError(keys_env, "environment variable is not set")
        keys = parse_server_keys(text, env_name=keys_env)
        seed: bytearray | None = None
        seed_text = environ.get(signing_env, "").strip()
        if seed_text:
            seed = _seed(seed_text, signing_env)
        try:
            return cls(keys, bytes(seed) if seed is not None else None)
        finally:
            for key in keys.values():
                prim.wipe(key)
            prim.wipe(seed)

    # -- run time -------------------------------------------------------------------

    def wrap(self, plaintext: bytes | bytearray, context: WrapContext) -> bytes:
        if not 0 < len(plaintext) <= MAX_WRAP_BYTES:
            raise ValueError(f"providers wrap 1..{MAX_WRAP_BYTES} bytes")
        version = max(self._keys)
        header = wrap_header(TAG, version)
        nonce = self._rng(NONCE_BYTES)
        aad = header + encode_context(context)
        return header + nonce + prim.xchacha_encrypt(self._keys[version], nonce,
                                                      bytes(plaintext), aad)

    def unwrap(self, wrapped: bytes, context: WrapContext) -> bytearray:
        version, body = split_wrapped(wrapped, TAG)
        key = self._keys.get(version)
        if key is None:
            raise KeyVersionMissing(f"env root version {version} is not configured "
                                    "(destroyed or removed from the environment)")
        if len(body) < NONCE_BYTES + 16:
            raise MalformedToken("wrapped value is too short")
        aad = wrapped[:4] + encode_context(context)
        return bytearray(prim.xchacha_decrypt(key, body[:NONCE_BYTES], body[NONCE_BYTES:],
                                              aad))

    def sign(self, message: bytes) -> bytes:
        if self._signer is None:
            raise ProviderDenied("env: no checkpoint signing key is configured")
        return self._signer.sign(message)

    def public_key(self) -> bytes:
        if self._public is None:
            raise ProviderDenied("env: no checkpoint signing key is configured")
        return self._public

    def health(self) -> ProviderHealth:
        if not self._keys:
            raise ProviderDenied("env: the provider was closed")
        return ProviderHealth(self.name, max(self._keys), key_outside_process=False,
                              detail="keys in this process's environment")

    def close(self) -> None:
        for key in self._keys.values():
            prim.wipe(key)
        self._keys.clear()
        self._signer = None

    # -- administration (in memory only: see the module docstring) ------------------

    def versions(self) -> tuple[int, ...]:
        return tuple(sorted(self._keys, reverse=True))

    def rotate(self) -> int:
        version = max(self._keys) + 1
        fresh = bytearray(self._rng(KEY_BYTES))
        try:
            self._keys[version] = bytearray(prim.hkdf_sha256(
                fresh, salt=_HKDF_SALT, info=_WRAP_INFO, length=KEY_BYTES))
        finally:
            prim.wipe(fresh)
        return version

    def destroy_version(self, version: int) -> None:
        if version not in self._keys:
            raise KeyVersionMissing(f"env root version {version} does not exist")
        if version == max(self._keys):
            raise ProviderDenied("env: the current root version cannot be destroyed")
        if version != min(self._keys):
            raise ProviderDenied("env: only the oldest root version can be destroyed")
        prim.wipe(self._keys.pop(version))


def _seed(text: str, env_name: str) -> bytearray:
    try:
        raw = bytearray(base64.b64decode(text.encode("ascii"), validate=True))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ConfigError(env_name, "not base64") from None
    if len(raw) != KEY_BYTES:
        raise ConfigError(env_name, f"must be a 32-byte Ed25519 seed, got {len(raw)} bytes")
    return raw
