"""The PKCS#11 key provider: root and checkpoint keys inside an HSM (ADR 0033).

Through python-pkcs11, against any vendor's PKCS#11 module; tested on SoftHSM2.

* Root versions are AES-256 secret keys labelled ``<prefix>-root-v<N>``, generated on
  the token with ``CKA_SENSITIVE`` true and ``CKA_EXTRACTABLE`` false: no call, ours or an
  attacker's with the PIN, can read them out. Wrapping is ``C_Encrypt``/``C_Decrypt``
  with ``CKM_AES_GCM``, not ``C_WrapKey``: the data keys are used in process memory, so
  they are plain bytes to the token. The 96-bit IV comes from the token's own generator
  (``C_GenerateRandom``), the associated data is the wrapped header and the canonical
  context, and the tag is 128 bits. Layout: ``"P1" | version u16 | IV 12 | ct + tag``.
* The checkpoint key is an Ed25519 key pair (``CKM_EC_EDWARDS_KEY_PAIR_GEN``) labelled
  ``<prefix>-checkpoint``, private half sensitive and not extractable; signatures are
  ``CKM_EDDSA`` (64 bytes).
* Opening checks the token lists both mechanisms and refuses to start otherwise.
* A session is not thread-safe: one lock serialises calls. A session the token dropped
  (an HSM restart, ``C_Finalize`` elsewhere) is reopened once before the call fails as
  :class:`ProviderDown`.

SoftHSM2 keeps its token files and PIN on the host it runs on, so against it this
provider proves the API behaviour only, not that the host cannot reach the key.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11e
from pkcs11.mechanisms import GCMParams
from pkcs11.util.ec import encode_named_curve_parameters

from medcrypt.crypto.errors import (
    DecryptionFailed,
    KeyVersionMissing,
    MalformedToken,
    ProviderDenied,
    ProviderDown,
)
from medcrypt.crypto.server.provider import (
    MAX_WRAP_BYTES,
    ProviderHealth,
    WrapContext,
    encode_context,
    split_wrapped,
    wrap_header,
)

TAG = b"P1"
IV_BYTES = 12
TAG_BITS = 128
_ED25519_OID = "1.3.101.112"
_REQUIRED = {Mechanism.AES_GCM: "CKM_AES_GCM", Mechanism.EDDSA: "CKM_EDDSA"}
_SESSION_GONE = (p11e.SessionHandleInvalid, p11e.SessionClosed, p11e.DeviceRemoved,
                 p11e.TokenNotPresent, p11e.UserNotLoggedIn, p11e.DeviceError)
_T = TypeVar("_T")


class Pkcs11Provider:
    """Root versions and the checkpoint key on one PKCS#11 token."""

    name = "pkcs11"

    def __init__(self, module: str, token_label: str, pin: str, *,
                 prefix: str = "medcrypt", create: bool = False) -> None:
        self._module, self._token_label, self._pin = module, token_label, pin
        self._prefix = prefix
        self._lock = threading.Lock()
        self._session: Any = None
        self._roots: dict[int, Any] = {}
        self._private: Any = None
        self._public_raw: bytes | None = None
        #: Requests this handle made to the token, by operation (wrap, unwrap, sign...):
        #: what the relay test reads to prove no call per message (docs/adr/0037).
        self.calls: Counter[str] = Counter()
        with self._lock:
            self._open()
            if create:
                self._create_missing()
            self._load()

    # -- session ------------------------------------------------------------------

    def _open(self) -> None:
        try:
            lib = pkcs11.lib(self._module)
            token = lib.get_token(token_label=self._token_label)
            mechanisms = set(token.slot.get_mechanisms())
        except (p11e.NoSuchToken, p11e.TokenNotPresent, p11e.SlotIDInvalid):
            raise ProviderDown(f"pkcs11: no token labelled {self._token_label!r}") from None
        except (RuntimeError, OSError) as exc:
            raise ProviderDown(f"pkcs11: the module cannot be loaded "
                               f"({type(exc).__name__})") from None
        missing = [name for mech, name in _REQUIRED.items() if mech not in mechanisms]
        if missing:
            raise ProviderDenied(f"pkcs11: the token lacks {', '.join(missing)}; "
                                 "the bot needs both to start")
        try:
            try:
                self._session = token.open(user_pin=self._pin, rw=True)
            except p11e.UserAlreadyLoggedIn:
                # Login is per application, not per session: another handle in this
                # process logged in already, and this session shares that login.
                self._session = token.open(rw=True)
        except (p11e.PinIncorrect, p11e.PinLocked, p11e.PinInvalid, p11e.PinLenRange):
            raise ProviderDenied("pkcs11: the token refused the PIN") from None
        except p11e.PKCS11Error as exc:
            raise ProviderDown(f"pkcs11: cannot open a session ({type(exc).__name__})") from None

    def _load(self) -> None:
        """Find the root versions and the checkpoint key by label."""
        roots: dict[int, Any] = {}
        prefix = f"{self._prefix}-root-v"
        for obj in self._session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}):
            label = obj.label or ""
            if label.startswith(prefix) and label[len(prefix):].isdigit():
                roots[int(label[len(prefix):])] = obj
        if not roots:
            raise ProviderDenied(f"pkcs11: no root key labelled {prefix}<N> on the token "
                                 "(create it with `medcrypt-bot keys provider init`)")
        self._roots = roots
        label = f"{self._prefix}-checkpoint"
        try:
            self._private = self._session.get_key(object_class=ObjectClass.PRIVATE_KEY,
                                                  key_type=KeyType.EC_EDWARDS, label=label)
            public = self._session.get_key(object_class=ObjectClass.PUBLIC_KEY,
                                           key_type=KeyType.EC_EDWARDS, label=label)
        except p11e.NoSuchKey:
            raise ProviderDenied(f"pkcs11: no Ed25519 key pair labelled {label}") from None
        self._public_raw = _ec_point_raw(public[Attribute.EC_POINT])

    def _create_missing(self) -> None:
        """First run (``keys provider init``): generate whatever key is missing."""
        prefix = f"{self._prefix}-root-v"
        has_root = any((o.label or "").startswith(prefix) for o in self._session.get_objects(
            {Attribute.CLASS: ObjectClass.SECRET_KEY}))
        if not has_root:
            self._generate_root(1)
        label = f"{self._prefix}-checkpoint"
        found = list(self._session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                                                Attribute.LABEL: label}))
        if not found:
            params = self._session.create_domain_parameters(
                KeyType.EC_EDWARDS,
                {Attribute.EC_PARAMS: encode_named_curve_parameters(_ED25519_OID)},
                local=True)
            params.generate_keypair(
                mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN, store=True, label=label,
                private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                                  Attribute.SIGN: True, Attribute.TOKEN: True},
                public_template={Attribute.VERIFY: True, Attribute.TOKEN: True})

    def _generate_root(self, version: int) -> Any:
        return self._session.generate_key(
            KeyType.AES, 256, label=f"{self._prefix}-root-v{version}", store=True,
            template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                      Attribute.ENCRYPT: True, Attribute.DECRYPT: True,
                      Attribute.WRAP: False, Attribute.UNWRAP: False,
                      Attribute.TOKEN: True})

    def _call(self, what: str, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` under the lock; reopen a dropped session once, then fail as down."""
        with self._lock:
            self.calls[what] += 1
            if self._session is None:
                raise ProviderDown("pkcs11: the provider was closed")
            try:
                return fn()
            except _SESSION_GONE:
                pass
            try:
                self._open()
                self._load()
                return fn()
            except _SESSION_GONE as exc:
                raise ProviderDown(f"pkcs11: {what} failed, the token is gone "
                                   f"({type(exc).__name__})") from None

    # -- run time -------------------------------------------------------------------

    def wrap(self, plaintext: bytes | bytearray, context: WrapContext) -> bytes:
        if not 0 < len(plaintext) <= MAX_WRAP_BYTES:
            raise ValueError(f"providers wrap 1..{MAX_WRAP_BYTES} bytes")
        encoded = encode_context(context)

        def run() -> bytes:
            version = max(self._roots)
            header = wrap_header(TAG, version)
            iv = self._session.generate_random(IV_BYTES * 8)
            ct = self._roots[version].encrypt(
                bytes(plaintext), mechanism=Mechanism.AES_GCM,
                mechanism_param=GCMParams(iv, header + encoded, TAG_BITS))
            return header + bytes(iv) + bytes(ct)

        return self._call("wrap", run)

    def unwrap(self, wrapped: bytes, context: WrapContext) -> bytearray:
        version, body = split_wrapped(wrapped, TAG)
        if len(body) < IV_BYTES + TAG_BITS // 8:
            raise MalformedToken("wrapped value is too short")
        aad = wrapped[:4] + encode_context(context)

        def run() -> bytearray:
            key = self._roots.get(version)
            if key is None and version > max(self._roots, default=0):
                # Made after this handle loaded the token: another process closed a
                # shred epoch (ADR 0039). Look again once; a replica must not need a
                # restart to open the new KEK.
                self._load()
                key = self._roots.get(version)
            if key is None:
                raise KeyVersionMissing(f"pkcs11: root version {version} is not on the token")
            try:
                return bytearray(key.decrypt(
                    body[IV_BYTES:], mechanism=Mechanism.AES_GCM,
                    mechanism_param=GCMParams(body[:IV_BYTES], aad, TAG_BITS)))
            except _SESSION_GONE:
                raise
            except (p11e.KeyHandleInvalid, p11e.ObjectHandleInvalid):
                raise KeyVersionMissing(f"pkcs11: root version {version} was destroyed"
                                        ) from None
            except p11e.PKCS11Error:
                # SoftHSM answers a failed tag with CKR_GENERAL_ERROR, others with
                # CKR_ENCRYPTED_DATA_INVALID: both are the one opaque failure.
                raise DecryptionFailed() from None

        return self._call("unwrap", run)

    def sign(self, message: bytes) -> bytes:
        return bytes(self._call("sign", lambda: self._private.sign(
            message, mechanism=Mechanism.EDDSA)))

    def public_key(self) -> bytes:
        if self._public_raw is None:
            raise ProviderDown("pkcs11: the provider was closed")
        return self._public_raw

    def health(self) -> ProviderHealth:
        """Reload the keys (a rotation by the operator shows up here), check that none
        of them could ever be read out, and make a round trip to the token."""
        def run() -> int:
            self._load()
            self._session.generate_random(64)
            return max(self._roots)

        version = self._call("health", run)
        for attrs in self.key_attributes():
            if not attrs["sensitive"] or attrs["extractable"] or not attrs["never_extractable"]:
                raise ProviderDenied("pkcs11: a root or checkpoint key on the token is "
                                     "extractable or not sensitive; refusing to use it")
        return ProviderHealth(self.name, version, key_outside_process=True,
                              detail=f"token {self._token_label!r}")

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                with contextlib.suppress(p11e.PKCS11Error):  # closing a dropped session
                    self._session.close()
            self._session = None
            self._roots = {}
            self._private = None

    # -- administration -------------------------------------------------------------

    def versions(self) -> tuple[int, ...]:
        return self._call("versions", lambda: tuple(sorted(self._roots, reverse=True)))

    def rotate(self) -> int:
        def run() -> int:
            version = max(self._roots) + 1
            self._roots[version] = self._generate_root(version)
            return version

        return self._call("rotate", run)

    def destroy_version(self, version: int) -> None:
        def run() -> None:
            if version not in self._roots:
                raise KeyVersionMissing(f"pkcs11: root version {version} does not exist")
            if version == max(self._roots):
                raise ProviderDenied("pkcs11: the current root version cannot be destroyed")
            if version != min(self._roots):
                raise ProviderDenied("pkcs11: only the oldest root version can be destroyed")
            self._roots.pop(version).destroy()

        self._call("destroy", run)

    def key_attributes(self) -> list[dict[str, bool]]:
        """SENSITIVE/EXTRACTABLE/NEVER_EXTRACTABLE of every root and the checkpoint key,
        as the token reports them (``health`` refuses a key that could be read out)."""
        def run() -> list[dict[str, bool]]:
            return [{"sensitive": bool(k[Attribute.SENSITIVE]),
                     "extractable": bool(k[Attribute.EXTRACTABLE]),
                     "never_extractable": bool(k[Attribute.NEVER_EXTRACTABLE])}
                    for k in [*self._roots.values(), self._private]]

        return self._call("attributes", run)


def _ec_point_raw(point: bytes) -> bytes:
    """CKA_EC_POINT of an Ed25519 key: a DER OCTET STRING around the 32 raw bytes
    (some tokens give the raw bytes); anything else is refused."""
    data = bytes(point)
    if len(data) == 34 and data[0] == 0x04 and data[1] == 32:
        return data[2:]
    if len(data) == 32:
        return data
    raise ProviderDenied("pkcs11: the checkpoint public key is not an Ed25519 point")

