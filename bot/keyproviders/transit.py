"""The Vault/OpenBao Transit key provider (ADR 0033), through ``hvac``.

* The root is an ``aes256-gcm96`` Transit key; Transit versions it, so a root version is
  a Transit key version. Wrapping is ``transit/encrypt`` with the wrapped header and the
  canonical context as ``associated_data``; layout ``"T1" | version u16 | "vault:vN:..."``.
* The checkpoint key is an ``ed25519`` Transit key; ``transit/sign`` returns the 64-byte
  signature and reading the key returns the public half for auditors.
* The bot's token carries :data:`BOT_POLICY` only: encrypt and decrypt under the root,
  sign with the checkpoint key, read the checkpoint key's metadata (its public key). It
  cannot change a key's config - a token that can would make the key exportable - nor
  export, rotate, trim or delete. The operator's token (``keys`` CLI) does those.
* Destroying a version is ``min_decryption_version`` raised past it, then a trim
  (``min_available_version``) that deletes the key material for good.
"""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import Callable
from typing import Any, TypeVar

import hvac
import requests
from hvac import exceptions as hve

from medcrypt.crypto.errors import (
    DecryptionFailed,
    KeyVersionMissing,
    MalformedToken,
    ProviderDenied,
    ProviderDown,
    ProviderThrottled,
)
from medcrypt.crypto.server.provider import (
    MAX_WRAP_BYTES,
    ProviderHealth,
    WrapContext,
    encode_context,
    split_wrapped,
    wrap_header,
)

TAG = b"T1"
_CIPHERTEXT = re.compile(r"vault:v([0-9]{1,5}):[A-Za-z0-9+/=]+\Z")
_SIGNATURE = re.compile(r"vault:v[0-9]{1,5}:([A-Za-z0-9+/=]+)\Z")
_T = TypeVar("_T")

#: The bot's policy, with ``{mount}``, ``{root}`` and ``{checkpoint}`` filled in.
BOT_POLICY = """
path "{mount}/encrypt/{root}" {{ capabilities = ["update"] }}
path "{mount}/decrypt/{root}" {{ capabilities = ["update"] }}
path "{mount}/sign/{checkpoint}" {{ capabilities = ["update"] }}
path "{mount}/keys/{checkpoint}" {{ capabilities = ["read"] }}
"""


def bot_policy(mount: str, root: str, checkpoint: str) -> str:
    return BOT_POLICY.format(mount=mount, root=root, checkpoint=checkpoint)


class TransitProvider:
    """A root and a checkpoint key in one Transit mount, used with one token."""

    name = "transit"

    def __init__(self, url: str, token: str, *, mount: str = "transit",
                 prefix: str = "medcrypt", timeout: float = 5.0) -> None:
        self._client: Any = hvac.Client(url=url, token=token, timeout=timeout)
        self._mount = mount
        self.root_key = f"{prefix}-root"
        self.checkpoint_key = f"{prefix}-checkpoint"
        self._public: bytes | None = None

    # -- errors ---------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[], _T],
              invalid: Callable[[str], Exception] | None = None) -> _T:
        """One request; the service's answer mapped to the provider errors. A request
        the server calls invalid (400) is ``invalid(message)`` when given, else denied."""
        try:
            return fn()
        except hve.InvalidRequest as exc:
            if invalid is not None:
                raise invalid(str(exc)) from None
            raise ProviderDenied(f"transit: {what} was refused as invalid") from None
        except hve.RateLimitExceeded:
            raise ProviderThrottled(f"transit: {what} was rate limited") from None
        except hve.Forbidden:
            raise ProviderDenied(f"transit: the token may not {what}") from None
        except hve.InvalidPath:
            raise ProviderDenied(f"transit: {what}: the key or mount does not exist") from None
        except (hve.VaultDown, hve.InternalServerError, hve.BadGateway, hve.VaultNotInitialized,
                hve.UnexpectedError):
            raise ProviderDown(f"transit: {what}: the server is unavailable") from None
        except (requests.ConnectionError, requests.Timeout):
            raise ProviderDown(f"transit: {what}: the server cannot be reached") from None

    # -- run time -------------------------------------------------------------------

    def wrap(self, plaintext: bytes | bytearray, context: WrapContext) -> bytes:
        if not 0 < len(plaintext) <= MAX_WRAP_BYTES:
            raise ValueError(f"providers wrap 1..{MAX_WRAP_BYTES} bytes")
        # The associated data is the context alone: the version Transit picks is known
        # only from its answer. The "vault:vN:" prefix selects the key that must open
        # the value, and unwrap checks it equals the header's version.
        aad = base64.b64encode(encode_context(context)).decode("ascii")
        answer = self._call("encrypt", lambda: self._client.secrets.transit.encrypt_data(
            self.root_key, base64.b64encode(bytes(plaintext)).decode("ascii"),
            mount_point=self._mount, associated_data=aad))
        ciphertext = str(answer["data"]["ciphertext"])
        match = _CIPHERTEXT.match(ciphertext)
        if match is None:
            raise ProviderDown("transit: encrypt answered with an unexpected ciphertext")
        return wrap_header(TAG, int(match[1])) + ciphertext.encode("ascii")

    def unwrap(self, wrapped: bytes, context: WrapContext) -> bytearray:
        version, body = split_wrapped(wrapped, TAG)
        try:
            ciphertext = body.decode("ascii")
        except UnicodeDecodeError:
            raise MalformedToken("wrapped value is not a Transit ciphertext") from None
        match = _CIPHERTEXT.match(ciphertext)
        if match is None or int(match[1]) != version:
            raise MalformedToken("wrapped value is not a Transit ciphertext")
        aad = base64.b64encode(encode_context(context)).decode("ascii")

        def invalid(message: str) -> Exception:
            if "disallowed by policy" in message or "too old" in message:
                return KeyVersionMissing(f"transit: root version {version} was destroyed")
            return DecryptionFailed()

        answer = self._call("decrypt", lambda: self._client.secrets.transit.decrypt_data(
            self.root_key, ciphertext, mount_point=self._mount, associated_data=aad),
            invalid)
        return bytearray(base64.b64decode(answer["data"]["plaintext"]))

    def sign(self, message: bytes) -> bytes:
        answer = self._call("sign", lambda: self._client.secrets.transit.sign_data(
            self.checkpoint_key, base64.b64encode(message).decode("ascii"),
            mount_point=self._mount))
        match = _SIGNATURE.match(answer["data"]["signature"])
        if match is None:
            raise ProviderDown("transit: sign answered with an unexpected signature")
        return base64.b64decode(match[1])

    def public_key(self) -> bytes:
        if self._public is None:
            answer = self._call("read the checkpoint public key",
                                lambda: self._client.secrets.transit.read_key(
                                    self.checkpoint_key, mount_point=self._mount))
            data = answer["data"]
            if data.get("type") != "ed25519":
                raise ProviderDenied("transit: the checkpoint key is not an ed25519 key "
                                     "(the witness format fixes 64-byte signatures)")
            latest = str(data["latest_version"])
            self._public = base64.b64decode(data["keys"][latest]["public_key"])
        return self._public

    def health(self) -> ProviderHealth:
        """Encrypt and decrypt a probe under the root and read the checkpoint key."""
        probe = {"purpose": "health"}
        wrapped = self.wrap(b"medcrypt health probe", probe)
        if bytes(self.unwrap(wrapped, probe)) != b"medcrypt health probe":
            raise ProviderDown("transit: the health probe did not round-trip")
        self._public = None
        self.public_key()
        version, _ = split_wrapped(wrapped, TAG)
        return ProviderHealth(self.name, version, key_outside_process=True,
                              detail=f"mount {self._mount!r}")

    def close(self) -> None:
        adapter = getattr(self._client, "adapter", None)
        if adapter is not None:
            adapter.close()

    # -- administration (needs the operator's token) ----------------------------------

    def versions(self) -> tuple[int, ...]:
        data = self._call("read the root key", lambda: self._client.secrets.transit.read_key(
            self.root_key, mount_point=self._mount))["data"]
        low = max(int(data.get("min_decryption_version", 1)),
                  int(data.get("min_available_version", 0) or 1))
        return tuple(sorted((int(v) for v in data["keys"] if int(v) >= low), reverse=True))

    def rotate(self) -> int:
        self._call("rotate", lambda: self._client.secrets.transit.rotate_key(
            self.root_key, mount_point=self._mount))
        return self.versions()[0]

    def destroy_version(self, version: int) -> None:
        live = self.versions()
        if version not in live:
            raise KeyVersionMissing(f"transit: root version {version} does not exist")
        if version == live[0]:
            raise ProviderDenied("transit: the current root version cannot be destroyed")
        if version != live[-1]:
            raise ProviderDenied("transit: only the oldest root version can be destroyed")
        # Trimming needs min_encryption_version >= the new floor. hvac's helper refuses
        # min_encryption_version == min_decryption_version, which OpenBao and Vault
        # accept and which closing a shred epoch needs (it destroys the version just
        # below the current one), so the configuration goes to the API as it is.
        path = f"/v1/{self._mount}/keys/{self.root_key}/config"
        self._call("configure the root key", lambda: self._client.adapter.post(path, json={
            "min_decryption_version": version + 1, "min_encryption_version": live[0]}))
        self._call("trim the root key", lambda: self._client.secrets.transit.trim_key(
            self.root_key, min_version=version + 1, mount_point=self._mount))


def provision(url: str, admin_token: str, *, mount: str = "transit",
              prefix: str = "medcrypt", policy_name: str = "medcrypt-bot",
              token_ttl: str = "768h") -> str:  # noqa: S107 - a duration, not a secret
    """Set up a Transit mount for the bot (idempotent) and return a new bot token.

    Enables the mount, creates both keys (never exportable), writes :data:`BOT_POLICY`
    and issues an orphan token holding that policy only. Run by an operator with a
    token allowed to do all of that; the bot never holds one.
    """
    client: Any = hvac.Client(url=url, token=admin_token, timeout=5.0)
    try:
        mounts = client.sys.list_mounted_secrets_engines()["data"]
        if f"{mount}/" not in mounts:
            client.sys.enable_secrets_engine("transit", path=mount)
        root, checkpoint = f"{prefix}-root", f"{prefix}-checkpoint"
        existing: set[str] = set()
        with contextlib.suppress(hve.InvalidPath):  # a new mount lists no keys: 404
            existing = set(client.secrets.transit.list_keys(mount_point=mount)["data"]["keys"])
        if root not in existing:
            client.secrets.transit.create_key(root, key_type="aes256-gcm96",
                                              exportable=False, mount_point=mount)
        if checkpoint not in existing:
            client.secrets.transit.create_key(checkpoint, key_type="ed25519",
                                              exportable=False, mount_point=mount)
        client.sys.create_or_update_policy(policy_name, bot_policy(mount, root, checkpoint))
        answer = client.auth.token.create_orphan(policies=[policy_name], no_default_policy=True,
                                                 ttl=token_ttl, renewable=True)
        return str(answer["auth"]["client_token"])
    except (requests.ConnectionError, requests.Timeout):
        raise ProviderDown("transit: the server cannot be reached") from None
    except hve.Forbidden:
        raise ProviderDenied("transit: the operator token may not set up the mount") from None
