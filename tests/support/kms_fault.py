"""A fault stub for what moto's KMS cannot show (ADR 0033 lists each gap).

It sits on the real boto3 client's ``before-send`` event - after botocore has built and
signed the request, inside botocore's retry loop - and answers a few requests itself
with the HTTP status and JSON body AWS KMS documents; every other request goes on to
moto unchanged. What it adds:

* **Ed25519 keys** (``ECC_NIST_EDWARDS25519``, ``ED25519_SHA_512``): moto rejects the key
  spec. The stub creates such keys (the private half in the stub, as KMS would hold it),
  names them by alias, and answers ``DescribeKey``, ``GetPublicKey`` and ``Sign``.
* **Key states**: moto still decrypts under a disabled key or one pending deletion. The
  stub watches ``DisableKey``/``ScheduleKeyDeletion`` go to moto and then answers
  ``DisabledException`` / ``KMSInvalidStateException`` for that key, as KMS does.
* **Throttling** and **service faults**: the next N requests answer
  ``ThrottlingException`` (or ``KMSInternalException``), each counted.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from nacl.signing import SigningKey

ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


@dataclass
class KmsFaultStub:
    """Register with :meth:`attach`; state changes are made through the client as usual."""

    ed25519: dict[str, SigningKey] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)
    pending_deletion: set[str] = field(default_factory=set)
    fail_next: list[str] = field(default_factory=list)
    faults_answered: int = 0
    requests_seen: int = 0

    def attach(self, client: Any) -> KmsFaultStub:
        client.meta.events.register("before-send.kms", self._before_send)
        return self

    def throttle(self, count: int) -> None:
        self.fail_next.extend(["ThrottlingException"] * count)

    def break_service(self, count: int) -> None:
        self.fail_next.extend(["KMSInternalException"] * count)

    # -- the hook -----------------------------------------------------------------------

    def _before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        self.requests_seen += 1
        target = request.headers.get("X-Amz-Target", b"")
        if isinstance(target, bytes):
            target = target.decode("ascii")
        operation = target.rpartition(".")[2]
        body = json.loads(request.body or b"{}")
        if self.fail_next:
            self.faults_answered += 1
            code = self.fail_next.pop(0)
            return self._error(request, code, "Rate exceeded" if "Throttl" in code else
                               "KMS internal failure", 400 if "Throttl" in code else 500)
        key = self._resolve(body.get("KeyId") or body.get("TargetKeyId"))
        if operation == "CreateKey" and body.get("KeySpec") == "ECC_NIST_EDWARDS25519":
            key_id = str(uuid.uuid4())
            self.ed25519[key_id] = SigningKey.generate()
            return self._ok(request, {"KeyMetadata": self._meta(key_id)})
        if operation == "CreateAlias":
            self.aliases[body["AliasName"]] = body["TargetKeyId"]
            if body["TargetKeyId"] in self.ed25519:
                return self._ok(request, {})
            return None
        if operation == "DeleteAlias":
            self.aliases.pop(body["AliasName"], None)
            return None
        if key in self.ed25519:
            return self._ed25519(request, operation, key, body)
        if operation == "DisableKey" and key:
            self.disabled.add(key)
        elif operation == "EnableKey" and key:
            self.disabled.discard(key)
        elif operation == "ScheduleKeyDeletion" and key:
            self.pending_deletion.add(key)
        elif operation in ("Encrypt", "Decrypt", "GenerateDataKey") and key:
            if key in self.pending_deletion:
                return self._error(request, "KMSInvalidStateException",
                                   f"{key} is pending deletion.", 400)
            if key in self.disabled:
                return self._error(request, "DisabledException", f"{key} is disabled.", 400)
        return None

    def _resolve(self, key: str | None) -> str | None:
        if key is None:
            return None
        return self.aliases.get(key, key)

    def _ed25519(self, request: Any, operation: str, key: str, body: dict[str, Any]
                 ) -> AWSResponse:
        signing = self.ed25519[key]
        if operation == "DescribeKey":
            return self._ok(request, {"KeyMetadata": self._meta(key)})
        if operation == "GetPublicKey":
            spki = ED25519_SPKI_PREFIX + bytes(signing.verify_key)
            return self._ok(request, {"KeyId": key, "KeySpec": "ECC_NIST_EDWARDS25519",
                                      "KeyUsage": "SIGN_VERIFY",
                                      "PublicKey": base64.b64encode(spki).decode(),
                                      "SigningAlgorithms": ["ED25519_SHA_512"]})
        if operation == "Sign":
            if body.get("SigningAlgorithm") != "ED25519_SHA_512" or body.get(
                    "MessageType") != "RAW":
                return self._error(request, "ValidationException", "bad algorithm", 400)
            message = base64.b64decode(body["Message"])
            signature = signing.sign(message).signature
            return self._ok(request, {"KeyId": key, "SigningAlgorithm": "ED25519_SHA_512",
                                      "Signature": base64.b64encode(signature).decode()})
        return self._error(request, "UnsupportedOperationException",
                           f"the stub does not implement {operation}", 400)

    @staticmethod
    def _meta(key_id: str) -> dict[str, Any]:
        return {"KeyId": key_id, "Arn": f"arn:aws:kms:us-east-1:123456789012:key/{key_id}",
                "KeySpec": "ECC_NIST_EDWARDS25519", "KeyUsage": "SIGN_VERIFY",
                "KeyState": "Enabled", "Enabled": True, "CreationDate": 0}

    @staticmethod
    def _ok(request: Any, payload: dict[str, Any]) -> AWSResponse:
        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.1"},
                           _Raw(json.dumps(payload).encode()))

    @staticmethod
    def _error(request: Any, code: str, message: str, status: int) -> AWSResponse:
        body = json.dumps({"__type": code, "message": message}).encode()
        return AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.1",
                                                 "x-amzn-ErrorType": code}, _Raw(body))
