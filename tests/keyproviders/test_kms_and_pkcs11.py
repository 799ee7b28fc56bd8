"""What one provider does beyond the shared contract.

KMS: botocore's standard retry absorbs a single throttle; a service fault is "down";
a checkpoint key that is ECDSA (what KMS offered before Ed25519) is refused, since the
witness format fixes 64-byte Ed25519 signatures. PKCS#11: a session the token dropped
(C_Finalize, as an HSM restart does) is reopened on the next call.
"""

from __future__ import annotations

import pytest

from medcrypt.crypto.errors import ProviderDenied, ProviderDown
from tests.support.keyrigs import CTX, Rig, kms_rig, pkcs11_rig
from tests.support.keyservers import SoftHsm


@pytest.fixture
def kms(kms_endpoint: str) -> Rig:
    made = kms_rig(kms_endpoint)
    yield made
    made.close()


def test_kms_one_throttle_is_retried_by_botocore(kms: Rig) -> None:
    stub = kms.extra["stub"]
    stub.throttle(1)
    wrapped = kms.bot.wrap(b"k" * 32, CTX)
    assert stub.faults_answered == 1
    assert bytes(kms.bot.unwrap(wrapped, CTX)) == b"k" * 32


def test_kms_internal_failure_is_down(kms: Rig) -> None:
    kms.extra["stub"].break_service(5)
    with pytest.raises(ProviderDown):
        kms.bot.wrap(b"k" * 32, CTX)


def test_kms_ecdsa_checkpoint_key_is_refused(kms_endpoint: str) -> None:
    import boto3

    from medcrypt.bot.keyproviders.kms import KmsProvider

    client = boto3.client("kms", region_name="us-east-1", endpoint_url=kms_endpoint,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    key = client.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    client.create_alias(AliasName="alias/ecdsa-checkpoint",
                        TargetKeyId=key["KeyMetadata"]["KeyId"])
    provider = KmsProvider(region="us-east-1", prefix="ecdsa", client=client)
    with pytest.raises(ProviderDenied, match="not an Ed25519 key"):
        provider.public_key()


def test_pkcs11_session_dropped_by_the_token_is_reopened(softhsm_token: SoftHsm) -> None:
    import pkcs11

    rig = pkcs11_rig(softhsm_token)
    try:
        wrapped = rig.bot.wrap(b"k" * 32, CTX)
        pkcs11.lib(softhsm_token.module).reinitialize()  # every session of the process gone
        assert bytes(rig.bot.unwrap(wrapped, CTX)) == b"k" * 32
        assert len(rig.bot.sign(b"after the reset")) == 64
    finally:
        rig.close()
