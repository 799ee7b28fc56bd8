"""The AWS KMS key provider (ADR 0033), through boto3.

* A root *version* is a KMS key of its own, reached by the alias
  ``alias/<prefix>-root-v<N>``: KMS's automatic rotation keeps every old backing key
  forever, so a version that must really go is a key that can be scheduled for
  deletion. Wrapping is ``Encrypt``/``Decrypt`` naming that alias, with the context as
  the ``EncryptionContext`` (purpose and ids only - CloudTrail logs it in clear) plus
  the wrapped header's tag and version. Layout: ``"K1" | version u16 | CiphertextBlob``.
* The checkpoint key is an ``ECC_NIST_EDWARDS25519`` key (``alias/<prefix>-checkpoint``)
  signing with ``ED25519_SHA_512``: never ECDSA, since the witness format fixes 64-byte
  Ed25519 signatures.
* Throttling is retried by botocore's standard retry mode (``max_attempts``); what is
  still throttled after that is :class:`ProviderThrottled`.
* A disabled key or one pending deletion is :class:`ProviderDenied` (AWS answers
  ``DisabledException`` / ``KMSInvalidStateException``); a destroyed version, whose alias
  is gone, is :class:`KeyVersionMissing`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
from botocore import exceptions as bce
from botocore.config import Config

from medcrypt.crypto.errors import (
    DecryptionFailed,
    KeyVersionMissing,
    ProviderDenied,
    ProviderDown,
    ProviderThrottled,
)
from medcrypt.crypto.server.provider import (
    MAX_WRAP_BYTES,
    ProviderHealth,
    WrapContext,
    check_context,
    split_wrapped,
    wrap_header,
)

TAG = b"K1"
ED25519_SPEC = "ECC_NIST_EDWARDS25519"
ED25519_ALGORITHM = "ED25519_SHA_512"
#: DER SubjectPublicKeyInfo of an Ed25519 key: this fixed prefix, then the 32 raw bytes.
_ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
_THROTTLED = {"ThrottlingException", "LimitExceededException", "RequestLimitExceeded"}
_DOWN = {"KMSInternalException", "DependencyTimeoutException", "ServiceUnavailable",
         "InternalFailure", "CustomKeyStoreInvalidStateException"}
_DENIED = {"AccessDeniedException", "DisabledException", "KMSInvalidStateException",
           "UnrecognizedClientException", "InvalidKeyUsageException", "KeyUnavailableException",
           "IncorrectKeyException"}
_T = TypeVar("_T")


class KmsProvider:
    """Root versions (one KMS key each) and the checkpoint key in one account/region."""

    name = "kms"

    def __init__(self, *, region: str, prefix: str = "medcrypt",
                 endpoint_url: str | None = None, max_attempts: int = 3,
                 timeout: float = 5.0, client: Any = None) -> None:
        self._prefix = prefix
        self._client: Any = client or boto3.client(
            "kms", region_name=region, endpoint_url=endpoint_url,
            config=Config(retries={"mode": "standard", "total_max_attempts": max_attempts},
                          connect_timeout=timeout, read_timeout=timeout))
        self._public: bytes | None = None
        self._current: int | None = None

    @property
    def client(self) -> Any:
        """The boto3 client (the fault stub of the tests registers on its events)."""
        return self._client

    def _alias(self, version: int) -> str:
        return f"alias/{self._prefix}-root-v{version}"

    @property
    def checkpoint_alias(self) -> str:
        return f"alias/{self._prefix}-checkpoint"

    def _call(self, what: str, fn: Callable[[], _T]) -> _T:
        try:
            return fn()
        except bce.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _THROTTLED:
                raise ProviderThrottled(f"kms: {what} was throttled") from None
            if code in _DOWN:
                raise ProviderDown(f"kms: {what}: the service failed ({code})") from None
            if code in _DENIED:
                raise ProviderDenied(f"kms: {what} refused ({code})") from None
            if code == "NotFoundException":
                raise KeyVersionMissing(f"kms: {what}: the key or alias does not exist"
                                        ) from None
            if code == "InvalidCiphertextException":
                raise DecryptionFailed() from None
            raise ProviderDenied(f"kms: {what} failed ({code or 'unknown error'})") from None
        except (bce.EndpointConnectionError, bce.ConnectTimeoutError, bce.ReadTimeoutError,
                bce.ConnectionClosedError):
            raise ProviderDown(f"kms: {what}: the service cannot be reached") from None
        except bce.NoCredentialsError:
            raise ProviderDenied("kms: no AWS credentials are configured") from None

    def _context(self, context: WrapContext, version: int) -> dict[str, str]:
        checked = check_context(context)
        checked["medcrypt_wrap"] = f"{TAG.decode('ascii')}:v{version}"
        return checked

    # -- run time -------------------------------------------------------------------

    def _current_version(self) -> int:
        if self._current is None:
            live = self.versions()
            if not live:
                raise ProviderDenied(f"kms: no alias {self._alias(1)[:-1]}<N> exists "
                                     "(run `medcrypt-bot keys provider init`)")
            self._current = live[0]
        return self._current

    def wrap(self, plaintext: bytes | bytearray, context: WrapContext) -> bytes:
        if not 0 < len(plaintext) <= MAX_WRAP_BYTES:
            raise ValueError(f"providers wrap 1..{MAX_WRAP_BYTES} bytes")
        version = self._current_version()
        answer = self._call("encrypt", lambda: self._client.encrypt(
            KeyId=self._alias(version), Plaintext=bytes(plaintext),
            EncryptionContext=self._context(context, version)))
        return wrap_header(TAG, version) + bytes(answer["CiphertextBlob"])

    def unwrap(self, wrapped: bytes, context: WrapContext) -> bytearray:
        version, blob = split_wrapped(wrapped, TAG)
        answer = self._call("decrypt", lambda: self._client.decrypt(
            CiphertextBlob=blob, KeyId=self._alias(version),
            EncryptionContext=self._context(context, version)))
        return bytearray(answer["Plaintext"])

    def sign(self, message: bytes) -> bytes:
        answer = self._call("sign", lambda: self._client.sign(
            KeyId=self.checkpoint_alias, Message=message, MessageType="RAW",
            SigningAlgorithm=ED25519_ALGORITHM))
        return bytes(answer["Signature"])

    def public_key(self) -> bytes:
        if self._public is None:
            answer = self._call("read the checkpoint public key",
                                lambda: self._client.get_public_key(KeyId=self.checkpoint_alias))
            spki = bytes(answer["PublicKey"])
            if answer.get("KeySpec") != ED25519_SPEC or not (
                    len(spki) == 44 and spki.startswith(_ED25519_SPKI_PREFIX)):
                raise ProviderDenied("kms: the checkpoint key is not an Ed25519 key "
                                     "(the witness format fixes 64-byte signatures)")
            self._public = spki[len(_ED25519_SPKI_PREFIX):]
        return self._public

    def health(self) -> ProviderHealth:
        self._current = None
        version = self._current_version()
        meta = self._call("describe the root", lambda: self._client.describe_key(
            KeyId=self._alias(version)))["KeyMetadata"]
        if meta.get("KeyState") != "Enabled":
            raise ProviderDenied(f"kms: root version {version} is {meta.get('KeyState')}")
        self._public = None
        self.public_key()
        return ProviderHealth(self.name, version, key_outside_process=True,
                              detail="AWS KMS")

    def close(self) -> None:
        self._client.close()

    # -- administration -------------------------------------------------------------

    def versions(self) -> tuple[int, ...]:
        pattern = re.compile(rf"alias/{re.escape(self._prefix)}-root-v([0-9]{{1,5}})\Z")
        found: list[int] = []
        paginator = self._client.get_paginator("list_aliases")

        def collect() -> None:
            for page in paginator.paginate():
                for alias in page.get("Aliases", []):
                    match = pattern.match(alias.get("AliasName", ""))
                    if match and alias.get("TargetKeyId"):
                        found.append(int(match[1]))

        self._call("list aliases", collect)
        return tuple(sorted(found, reverse=True))

    def _create_root(self, version: int) -> None:
        key = self._call("create a root key", lambda: self._client.create_key(
            KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT",
            Description=f"medcrypt root v{version}"))["KeyMetadata"]["KeyId"]
        self._call("name the root key", lambda: self._client.create_alias(
            AliasName=self._alias(version), TargetKeyId=key))

    def rotate(self) -> int:
        live = self.versions()
        version = (live[0] if live else 0) + 1
        self._create_root(version)
        self._current = version
        return version

    def destroy_version(self, version: int, *, pending_days: int = 7) -> None:
        live = self.versions()
        if version not in live:
            raise KeyVersionMissing(f"kms: root version {version} does not exist")
        if version == live[0]:
            raise ProviderDenied("kms: the current root version cannot be destroyed")
        if version != live[-1]:
            raise ProviderDenied("kms: only the oldest root version can be destroyed")
        alias = self._alias(version)
        key_id = self._call("describe the root", lambda: self._client.describe_key(
            KeyId=alias))["KeyMetadata"]["KeyId"]
        self._call("remove the alias", lambda: self._client.delete_alias(AliasName=alias))
        self._call("schedule deletion", lambda: self._client.schedule_key_deletion(
            KeyId=key_id, PendingWindowInDays=pending_days))

    def provision(self) -> None:
        """First run (``keys provider init``): root v1 and the checkpoint key if missing."""
        if not self.versions():
            self._create_root(1)
        try:
            self._call("find the checkpoint key", lambda: self._client.describe_key(
                KeyId=self.checkpoint_alias))
        except KeyVersionMissing:
            key = self._call("create the checkpoint key", lambda: self._client.create_key(
                KeySpec=ED25519_SPEC, KeyUsage="SIGN_VERIFY",
                Description="medcrypt audit checkpoints"))["KeyMetadata"]["KeyId"]
            self._call("name the checkpoint key", lambda: self._client.create_alias(
                AliasName=self.checkpoint_alias, TargetKeyId=key))
