"""Checkpoint keys after the move behind crypto._primitives: same ids, strict verify.

The audit verifier used OpenSSL's Ed25519 check until the crypto libraries were confined
to one module; it now uses libsodium's strict one.  These tests pin what that changes
(a small-order key "signs" nothing) and what it must not (key ids, the b64 round trip,
opaque refusal of short keys and wrong-length subject keys).
"""

from __future__ import annotations

import base64
import hashlib

import pytest

from medcrypt.crypto.errors import ConfigError, DecryptionFailed, MalformedToken
from medcrypt.crypto.server.audit import (
    Checkpoint,
    CheckpointSigner,
    checkpoint_signature_ok,
    key_id_of,
    open_details,
    public_key_from_b64,
    seal_details,
)
from medcrypt.crypto.server.audit.checkpoint import AuditPublicKey

SEED = bytes(range(1, 33))


def test_public_key_round_trips_through_b64_with_the_same_key_id() -> None:
    signer = CheckpointSigner(SEED)
    text = signer.public_b64()
    assert base64.b64decode(text) == signer.public_key.raw
    parsed = public_key_from_b64(text)
    assert parsed == signer.public_key
    assert key_id_of(parsed) == signer.key_id == hashlib.sha256(
        b"MEDCRYPT-AUDIT-KEY-ID\x00v1\x00" + signer.public_key.raw).digest()[:8]


@pytest.mark.parametrize("text", ["", "not base64!", base64.b64encode(bytes(31)).decode()])
def test_bad_public_key_text_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="--public-key"):
        public_key_from_b64(text, name="--public-key")


def test_a_short_raw_key_is_malformed() -> None:
    with pytest.raises(MalformedToken):
        AuditPublicKey(bytes(31))


def test_small_order_key_cannot_vouch_for_a_forged_checkpoint() -> None:
    """``A = identity, sig = identity || 0`` passes OpenSSL's cofactorless check for any
    message; the strict verifier must refuse the checkpoint."""
    identity = AuditPublicKey(b"\x01" + bytes(31))
    key_id = key_id_of(identity)
    head = b"\x07" * 32
    forged = Checkpoint(9, 1_795_435_200_000_000, head, key_id, b"",
                        b"\x01" + bytes(31) + bytes(32))
    assert not checkpoint_signature_ok(forged, {key_id: identity})


def test_details_under_a_wrong_length_subject_key_fail_opaquely() -> None:
    sealed = seal_details(b"\x05" * 32, 3, "p:abc", "relay.accepted", b"{}",
                          rng=lambda n: b"\x09" * n)
    for key in (b"\x05" * 31, b"\x05" * 33, b""):
        with pytest.raises(DecryptionFailed):
            open_details(key, 3, "p:abc", "relay.accepted", sealed)
    assert open_details(b"\x05" * 32, 3, "p:abc", "relay.accepted", sealed) == {}
