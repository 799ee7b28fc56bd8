"""Wires the provider rigs: the services start once per session (tests/support/keyservers.py),
and each test gets fresh keys under a new prefix (tests/support/keyrigs.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import keyrigs, keyservers


@pytest.fixture(scope="session")
def softhsm_token() -> Iterator[keyservers.SoftHsm]:
    with keyservers.softhsm() as hsm:
        yield hsm


@pytest.fixture(scope="session")
def openbao_server() -> Iterator[keyservers.OpenBao]:
    with keyservers.openbao() as bao:
        yield bao


@pytest.fixture(scope="session")
def kms_endpoint() -> Iterator[str]:
    with keyservers.moto_kms() as endpoint:
        yield endpoint


@pytest.fixture(params=["env", "pkcs11", "transit", "kms"])
def rig(request: pytest.FixtureRequest) -> Iterator[keyrigs.Rig]:
    name = request.param
    if name == "env":
        made = keyrigs.env_rig()
    elif name == "pkcs11":
        made = keyrigs.pkcs11_rig(request.getfixturevalue("softhsm_token"))
    elif name == "transit":
        made = keyrigs.transit_rig(request.getfixturevalue("openbao_server"))
    else:
        made = keyrigs.kms_rig(request.getfixturevalue("kms_endpoint"))
    try:
        yield made
    finally:
        made.close()
