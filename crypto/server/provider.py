"""The key-provider interface: where the server's root and checkpoint keys live (ADR 0033).

The server keyring and the audit checkpoint signer ask a *provider* for two things and
never learn which one is configured:

* **wrap / unwrap** short secrets (data keys, at most :data:`MAX_WRAP_BYTES`) under the
  provider's root key, bound to a *context*: purpose and ids, never personal data, since
  AWS KMS writes the encryption context to CloudTrail in clear;
* **sign** a checkpoint with the provider's Ed25519 key and read its public key, so the
  auditors can verify without holding anything secret.

Providers: ``env`` (:mod:`.env_provider`, today's environment variables), PKCS#11,
Vault/OpenBao Transit and AWS KMS (``medcrypt.bot.keyproviders``: they talk to a library
or a network, which ``crypto/`` may not). The administrative half - rotate the root,
list and destroy versions - is :class:`KeyAdmin`; the bot's own credentials may be
refused it (Transit: the bot's token is allowed encrypt, decrypt, sign and reading the
public key only).

Every wrapped value starts with a two-byte provider tag and the root version it was
wrapped under (``tag 2 | version u16 | provider bytes``), so ``keys status`` counts
versions without a provider call and a value wrapped by one provider is refused by
another as :class:`MalformedToken` instead of reaching the wrong service.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from medcrypt.crypto.errors import MalformedToken

#: Longest secret a provider wraps: data keys are 32 bytes; KMS caps plaintext at 4 KiB.
MAX_WRAP_BYTES = 1024
ED25519_SIGNATURE_BYTES = 64
ED25519_PUBLIC_BYTES = 32
WRAP_HEADER_BYTES = 4
MAX_CONTEXT_ENTRIES = 8
_CONTEXT_KEY = re.compile(r"[a-z][a-z0-9_]{0,31}\Z")
#: Context values are ids and purposes: printable ASCII without spaces, bounded.
_CONTEXT_VALUE = re.compile(r"[A-Za-z0-9._:/=-]{1,128}\Z")
#: A value that looks like a phone number (E.164) never enters a context (KMS logs it).
_PHONE_LIKE = re.compile(r"\+?[0-9 ()-]{7,}\Z")
_CONTEXT_LABEL = b"medcrypt/key-provider/context/v1"

#: The context a provider binds a wrapped value to: ``{"purpose": ..., ids...}``.
WrapContext = Mapping[str, str]


def check_context(context: WrapContext) -> dict[str, str]:
    """Validate a wrap context; a copy with its entries in canonical (sorted) order.

    Refused with :class:`ValueError` (a programming error, never user input): no
    ``purpose``, more than :data:`MAX_CONTEXT_ENTRIES` entries, keys that are not short
    lower-case names, values that are not short id-like strings, or a value that looks
    like a phone number. The message names the key, never the value.
    """
    if "purpose" not in context:
        raise ValueError("a wrap context needs a 'purpose'")
    if len(context) > MAX_CONTEXT_ENTRIES:
        raise ValueError(f"a wrap context holds at most {MAX_CONTEXT_ENTRIES} entries")
    checked: dict[str, str] = {}
    for key in sorted(context):
        value = context[key]
        if not isinstance(key, str) or not _CONTEXT_KEY.match(key):
            raise ValueError("wrap context keys are short lower-case names")
        if isinstance(value, str) and _PHONE_LIKE.match(value) and (
                value.startswith("+") or sum(c.isdigit() for c in value) >= 10):
            raise ValueError(f"wrap context value of {key!r} looks like a phone number")
        if not isinstance(value, str) or not _CONTEXT_VALUE.match(value):
            raise ValueError(f"wrap context value of {key!r} is not an id-like string")
        checked[key] = value
    return checked


def encode_context(context: WrapContext) -> bytes:
    """Canonical bytes of a context (label, then sorted length-prefixed pairs): the
    associated data of providers that take bytes (PKCS#11 GCM, Transit, env)."""
    checked = check_context(context)
    out = [_CONTEXT_LABEL, struct.pack(">H", len(checked))]
    for key, value in checked.items():
        for part in (key.encode("ascii"), value.encode("ascii")):
            out.append(struct.pack(">H", len(part)) + part)
    return b"".join(out)


def wrap_header(tag: bytes, version: int) -> bytes:
    """The four bytes every wrapped value starts with."""
    if len(tag) != 2 or not 1 <= version <= 0xFFFF:
        raise ValueError("provider tags are 2 bytes and versions 1..65535")
    return tag + struct.pack(">H", version)


def split_wrapped(wrapped: bytes, tag: bytes) -> tuple[int, bytes]:
    """(version, provider bytes) of a wrapped value made by the provider with ``tag``."""
    if len(wrapped) <= WRAP_HEADER_BYTES or len(wrapped) > 8 * 1024:
        raise MalformedToken("wrapped value has an impossible length")
    if wrapped[:2] != tag:
        raise MalformedToken("wrapped value was made by another key provider")
    version: int = struct.unpack_from(">H", wrapped, 2)[0]
    if version == 0:
        raise MalformedToken("wrapped value names root version 0")
    return version, wrapped[WRAP_HEADER_BYTES:]


def wrapped_version(wrapped: bytes) -> int:
    """The root version a wrapped value claims, whatever its provider (no provider call)."""
    if len(wrapped) <= WRAP_HEADER_BYTES:
        raise MalformedToken("wrapped value has an impossible length")
    version: int = struct.unpack_from(">H", wrapped, 2)[0]
    return version


@dataclass(frozen=True)
class ProviderHealth:
    """What ``health()`` found: safe to log and to show in ``doctor`` (no secrets)."""

    provider: str
    root_version: int
    #: Whether the checkpoint key lives outside the bot's memory.
    key_outside_process: bool
    detail: str = ""


@runtime_checkable
class KeyProvider(Protocol):
    """What the bot's keyring and checkpoint signer use at run time."""

    #: ``env``, ``pkcs11``, ``transit`` or ``kms``.
    name: str

    def wrap(self, plaintext: bytes | bytearray, context: WrapContext) -> bytes:
        """Encrypt ``plaintext`` under the current root version, bound to ``context``."""
        ...

    def unwrap(self, wrapped: bytes, context: WrapContext) -> bytearray:
        """Inverse of :meth:`wrap`: another context or a changed byte is
        :class:`DecryptionFailed`; a destroyed version :class:`KeyVersionMissing`."""
        ...

    def sign(self, message: bytes) -> bytes:
        """A 64-byte Ed25519 signature by the checkpoint key."""
        ...

    def public_key(self) -> bytes:
        """The checkpoint key's raw 32-byte Ed25519 public key (for auditors)."""
        ...

    def health(self) -> ProviderHealth:
        """Reach the provider and check the keys and mechanisms the bot needs; raises
        :class:`ProviderDown`, :class:`ProviderThrottled` or :class:`ProviderDenied`.

        It also re-reads the current root version: a handle that cached it (PKCS#11,
        KMS) wraps under a version the operator rotated to only after this call."""
        ...

    def close(self) -> None:
        """Release sessions and connections; the provider is unusable afterwards."""
        ...


@runtime_checkable
class KeyAdmin(KeyProvider, Protocol):
    """The operator's half: root versions. Never needed on the message path."""

    def versions(self) -> tuple[int, ...]:
        """Root versions still able to unwrap, highest (current) first."""
        ...

    def rotate(self) -> int:
        """Make a new root version current; returns it. Old versions still unwrap."""
        ...

    def destroy_version(self, version: int) -> None:
        """Destroy the *oldest* root version for good (values wrapped under it are lost).

        Only the oldest may go (Transit can only trim from the bottom; the other
        providers keep the same rule so the contract is one) and never the current one:
        both refusals are :class:`ProviderDenied`.
        """
        ...
