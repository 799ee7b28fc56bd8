"""One rig per key provider, so the contract tests read the same for all four.

A rig gives fresh keys for each test (a new prefix: tests never see each other's
rotations), an ``admin`` handle (rotate, destroy) and a ``bot`` handle (the credentials
the bot runs with), plus the provider's ways to be down, throttled and denied. Where a
provider has no such state (``env`` has no service to be down; PKCS#11 has no back-off
answer) the hook is ``None`` and the test says so by skipping with that reason.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from medcrypt.crypto.errors import ProviderDenied
from medcrypt.crypto.server.env_provider import EnvProvider
from medcrypt.crypto.server.provider import KeyAdmin
from tests.support.keyservers import OpenBao, SoftHsm
from tests.support.kms_fault import KmsFaultStub

CTX = {"purpose": "test", "row": "7"}


@dataclass
class Rig:
    name: str
    admin: KeyAdmin
    bot: KeyAdmin
    #: Calls the provider when its service is unreachable (raises ProviderDown).
    down: Callable[[], Any] | None
    #: Makes the bot's next calls throttled, as a context manager.
    throttled: Callable[[], AbstractContextManager[None]] | None
    #: (what, call, errors): each call must be refused to the bot's credentials with one
    #: of ``errors``.
    denied: list[tuple[str, Callable[[], Any], Any]] = field(default_factory=list)
    why_not: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def refresh_bot(self) -> None:
        """The bot learns of a rotation on its next health check."""
        self.bot.health()

    def close(self) -> None:
        for handle in {id(self.admin): self.admin, id(self.bot): self.bot}.values():
            handle.close()


def free_port() -> int:
    """A loopback port nothing listens on (bound and released): a service that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prefix() -> str:
    return "t" + uuid.uuid4().hex[:12]


def env_rig() -> Rig:
    keys = {1: os.urandom(32)}
    provider = EnvProvider(keys, os.urandom(32))
    return Rig("env", provider, provider, down=None, throttled=None, why_not={
        "down": "env keys are in the process: there is no service to be down",
        "throttled": "env keys are in the process: nothing throttles them",
        "denied": "env keys are in the process's memory: nothing can be denied to it "
                  "(the reason the other providers exist, ADR 0033)"})


def pkcs11_rig(hsm: SoftHsm) -> Rig:
    from medcrypt.bot.keyproviders.pkcs11 import Pkcs11Provider

    prefix = _prefix()
    admin = Pkcs11Provider(hsm.module, hsm.token, hsm.pin, prefix=prefix, create=True)
    bot = Pkcs11Provider(hsm.module, hsm.token, hsm.pin, prefix=prefix)

    def down() -> Any:
        return Pkcs11Provider(hsm.module, "no-such-token", hsm.pin, prefix=prefix).wrap(
            b"k" * 32, CTX)

    def read(which: str) -> Callable[[], Any]:
        """What anyone holding the module and the PIN can do, from a process of their
        own: log in, find the key by its label, ask for CKA_VALUE. Raises
        ProviderDenied when the token refuses, as the bot's provider would report it."""
        def run() -> Any:
            done = subprocess.run(
                [sys.executable, "-c", _READ_VALUE, hsm.module, hsm.token, hsm.pin,
                 f"{prefix}-root-v1" if which == "root" else f"{prefix}-checkpoint",
                 "secret" if which == "root" else "private"],
                capture_output=True, text=True, check=False, timeout=60,
                env={**os.environ, "SOFTHSM2_CONF": hsm.conf})
            if done.stdout.strip() == "refused AttributeSensitive":
                raise ProviderDenied("pkcs11: the token refused to hand out the value")
            return done.stdout + done.stderr

        return run

    denied: list[tuple[str, Callable[[], Any], Any]] = [
        ("read the root's value", read("root"), ProviderDenied),
        ("read the checkpoint key's value", read("checkpoint"), ProviderDenied),
    ]
    return Rig("pkcs11", admin, bot, down=down, throttled=None, denied=denied, why_not={
        "throttled": "PKCS#11 has no back-off answer: a busy token blocks the call"})


_READ_VALUE = """
import sys, pkcs11
from pkcs11 import Attribute, ObjectClass
module, label, pin, name, kind = sys.argv[1:]
token = pkcs11.lib(module).get_token(token_label=label)
cls = ObjectClass.SECRET_KEY if kind == "secret" else ObjectClass.PRIVATE_KEY
with token.open(user_pin=pin) as session:
    (key,) = session.get_objects({Attribute.CLASS: cls, Attribute.LABEL: name})
    try:
        value = key[Attribute.VALUE]
    except pkcs11.exceptions.PKCS11Error as exc:
        print("refused", type(exc).__name__)
    else:
        print("read", len(value), "bytes")
"""


def transit_rig(bao: OpenBao) -> Rig:
    import hvac

    from medcrypt.bot.keyproviders.transit import TransitProvider, provision

    prefix = _prefix()
    token = provision(bao.addr, bao.root_token, prefix=prefix, policy_name=f"{prefix}-bot")
    admin = TransitProvider(bao.addr, bao.root_token, prefix=prefix)
    bot = TransitProvider(bao.addr, token, prefix=prefix)
    raw = hvac.Client(url=bao.addr, token=token)
    transit = raw.secrets.transit

    def down() -> Any:
        return TransitProvider(f"http://127.0.0.1:{free_port()}", token, prefix=prefix,
                               timeout=1.0).wrap(b"k" * 32, CTX)

    @contextmanager
    def throttled() -> Any:
        root = hvac.Client(url=bao.addr, token=bao.root_token)
        name = f"{prefix}-quota"
        root.adapter.post(f"/v1/sys/quotas/rate-limit/{name}", json={
            "path": f"transit/encrypt/{prefix}-root", "rate": 1, "interval": "60s"})
        try:
            yield
        finally:
            root.adapter.delete(f"/v1/sys/quotas/rate-limit/{name}")

    forbidden = hvac.exceptions.Forbidden
    denied: list[tuple[str, Callable[[], Any], Any]] = [
        ("make the root exportable", lambda: transit.update_key_configuration(
            f"{prefix}-root", exportable=True), forbidden),
        ("make the checkpoint key exportable", lambda: transit.update_key_configuration(
            f"{prefix}-checkpoint", exportable=True), forbidden),
        ("allow deleting the root", lambda: transit.update_key_configuration(
            f"{prefix}-root", deletion_allowed=True), forbidden),
        ("export the root", lambda: transit.export_key(f"{prefix}-root", "encryption-key"),
         forbidden),
        ("export the checkpoint key", lambda: transit.export_key(
            f"{prefix}-checkpoint", "signing-key"), forbidden),
        ("rotate the root", lambda: transit.rotate_key(f"{prefix}-root"), forbidden),
        ("delete the root", lambda: transit.delete_key(f"{prefix}-root"), forbidden),
        ("trim the root", lambda: transit.trim_key(f"{prefix}-root", min_version=1),
         forbidden),
        ("rotate through the provider", bot.rotate, ProviderDenied),
        ("destroy through the provider", lambda: bot.destroy_version(1), ProviderDenied),
    ]
    return Rig("transit", admin, bot, down=down, throttled=throttled, denied=denied,
               extra={"raw_bot": raw})


def kms_rig(endpoint: str) -> Rig:
    import boto3

    from medcrypt.bot.keyproviders.kms import KmsProvider

    prefix = _prefix()
    stub = KmsFaultStub()

    def client() -> Any:
        from botocore.config import Config

        made = boto3.client("kms", region_name="us-east-1", endpoint_url=endpoint,
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(retries={"mode": "standard",
                                                   "total_max_attempts": 2}))
        stub.attach(made)
        return made

    admin = KmsProvider(region="us-east-1", prefix=prefix, client=client())
    admin.provision()
    bot = KmsProvider(region="us-east-1", prefix=prefix, client=client())

    def down() -> Any:
        return KmsProvider(region="us-east-1", prefix=prefix, client=boto3.client(
            "kms", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{free_port()}",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )).wrap(b"k" * 32, CTX)

    def throttled() -> AbstractContextManager[None]:
        stub.throttle(100)
        return _clearing(stub)

    def root_key_id(version: int) -> str:
        meta = admin.client.describe_key(KeyId=f"alias/{prefix}-root-v{version}")
        return str(meta["KeyMetadata"]["KeyId"])

    def wrap_under_disabled() -> Any:
        key = root_key_id(admin.versions()[0])
        admin.client.disable_key(KeyId=key)
        try:
            return bot.wrap(b"k" * 32, CTX)
        finally:
            admin.client.enable_key(KeyId=key)

    def unwrap_pending_deletion() -> Any:
        wrapped = bot.wrap(b"k" * 32, CTX)
        key = root_key_id(admin.versions()[0])
        admin.client.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
        try:
            return bot.unwrap(wrapped, CTX)
        finally:
            admin.client.cancel_key_deletion(KeyId=key)
            admin.client.enable_key(KeyId=key)
            stub.pending_deletion.discard(key)

    denied: list[tuple[str, Callable[[], Any], Any]] = [
        ("wrap under a disabled root", wrap_under_disabled, ProviderDenied),
        ("unwrap under a root pending deletion", unwrap_pending_deletion, ProviderDenied)]
    return Rig("kms", admin, bot, down=down, throttled=throttled, denied=denied,
               extra={"stub": stub})


@contextmanager
def _clearing(stub: KmsFaultStub) -> Any:
    try:
        yield
    finally:
        stub.fail_next.clear()


