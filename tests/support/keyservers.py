"""The real key services the provider contract tests run against, one per test session.

SoftHSM2 and the OpenBao dev server come from ``scripts/softhsm.sh`` and
``scripts/openbao.sh``: the README's test command starts them once and exports their
variables (``MEDCRYPT_TEST_PKCS11_*``, ``MEDCRYPT_TEST_OPENBAO_*``), which every worker
then shares. A focused run without them (``pytest tests/keyproviders``) starts its own
through the same scripts and stops them at the end. Under CI a service that cannot be
started fails the run; locally its tests are skipped with the script's reason.

moto's KMS runs in server mode (a loopback HTTP server in a thread) for the session.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class SoftHsm:
    module: str
    token: str
    pin: str
    conf: str


@dataclass(frozen=True)
class OpenBao:
    addr: str
    root_token: str


def _start(script: str) -> dict[str, str]:
    done = subprocess.run(["bash", str(ROOT / "scripts" / script)], capture_output=True,
                          text=True, check=False, timeout=300)
    if done.returncode != 0:
        reason = f"{script} could not start: {done.stderr.strip()[-300:]}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    values: dict[str, str] = {}
    for line in done.stdout.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, _, value = words[1].partition("=")
            values[name] = value
    return values


@contextmanager
def softhsm() -> Iterator[SoftHsm]:
    """The exported token, or a token of this session's own."""
    started = None
    env = dict(os.environ)
    if not env.get("MEDCRYPT_TEST_PKCS11_MODULE"):
        values = _start("softhsm.sh")
        env.update(values)
        started = values["MEDCRYPT_TEST_HSM_DIR"]
        os.environ["SOFTHSM2_CONF"] = values["SOFTHSM2_CONF"]
    try:
        yield SoftHsm(env["MEDCRYPT_TEST_PKCS11_MODULE"], env["MEDCRYPT_TEST_PKCS11_TOKEN"],
                      env["MEDCRYPT_TEST_PKCS11_PIN"], env["SOFTHSM2_CONF"])
    finally:
        if started:
            subprocess.run(["bash", str(ROOT / "scripts" / "softhsm.sh"), "stop", started],
                           check=False)


@contextmanager
def openbao() -> Iterator[OpenBao]:
    """The exported dev server, or one of this session's own."""
    started = None
    env = dict(os.environ)
    if not env.get("MEDCRYPT_TEST_OPENBAO_ADDR"):
        values = _start("openbao.sh")
        env.update(values)
        started = values["MEDCRYPT_TEST_OPENBAO_DIR"]
    try:
        yield OpenBao(env["MEDCRYPT_TEST_OPENBAO_ADDR"], env["MEDCRYPT_TEST_OPENBAO_TOKEN"])
    finally:
        if started:
            subprocess.run(["bash", str(ROOT / "scripts" / "openbao.sh"), "stop", started],
                           check=False)


@contextmanager
def moto_kms() -> Iterator[str]:
    """moto in server mode on loopback; yields its endpoint URL."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request lines on stderr
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
