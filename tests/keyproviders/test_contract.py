"""One contract for every key provider: env, PKCS#11 (SoftHSM2), Transit (OpenBao dev
server) and KMS (moto in server mode plus the fault stub). The same tests run against
each; a provider that has no such state (env cannot be down) skips with the reason
its rig gives, and ADR 0033 lists those reasons."""

from __future__ import annotations

import pytest

from medcrypt.crypto.errors import (
    DecryptionFailed,
    KeyVersionMissing,
    MalformedToken,
    ProviderDenied,
    ProviderDown,
    ProviderThrottled,
)
from medcrypt.crypto.server.audit import CheckpointSigner
from medcrypt.crypto.server.audit.checkpoint import checkpoint_signature_ok
from medcrypt.crypto.server.provider import wrapped_version
from tests.support.keyrigs import CTX, Rig

KEY = bytes(range(32))


def _skip_unless(rig: Rig, hook: object, what: str) -> None:
    if hook is None or (what == "denied" and not rig.denied):
        pytest.skip(f"{rig.name}: {rig.why_not[what]}")


def test_wrap_unwrap_round_trip(rig: Rig) -> None:
    wrapped = rig.bot.wrap(KEY, CTX)
    assert KEY not in wrapped
    assert wrapped != rig.bot.wrap(KEY, CTX)  # a fresh IV/nonce every time
    assert bytes(rig.bot.unwrap(wrapped, CTX)) == KEY
    assert bytes(rig.admin.unwrap(wrapped, CTX)) == KEY  # the same root, another handle


def test_wrong_context_or_changed_byte_fails(rig: Rig) -> None:
    wrapped = rig.bot.wrap(KEY, CTX)
    for other in ({"purpose": "test", "row": "8"}, {"purpose": "other", "row": "7"},
                  {"purpose": "test", "row": "7", "extra": "1"}):
        with pytest.raises(DecryptionFailed):
            rig.bot.unwrap(wrapped, other)
    changed = bytearray(wrapped)
    changed[-3] ^= 0x01
    with pytest.raises((DecryptionFailed, MalformedToken)):
        rig.bot.unwrap(bytes(changed), CTX)


def test_another_providers_value_is_refused_without_a_call(rig: Rig) -> None:
    wrapped = rig.bot.wrap(KEY, CTX)
    foreign = (b"Z9" if wrapped[:2] != b"Z9" else b"Y8") + wrapped[2:]
    with pytest.raises(MalformedToken):
        rig.bot.unwrap(foreign, CTX)


def test_a_phone_number_never_enters_a_context(rig: Rig) -> None:
    with pytest.raises(ValueError, match="phone number"):
        rig.bot.wrap(KEY, {"purpose": "identity", "phone": "+15551234567"})


def test_sign_verify_is_64_byte_ed25519(rig: Rig) -> None:
    public = rig.bot.public_key()
    assert len(public) == 32
    signature = rig.bot.sign(b"message")
    assert len(signature) == 64
    signer = CheckpointSigner.in_provider(rig.bot)
    checkpoint = signer.sign(7, 1_700_000_000_000_000, b"h" * 32, b"")
    assert checkpoint_signature_ok(checkpoint, {signer.key_id: signer.public_key})
    assert not checkpoint_signature_ok(
        checkpoint.__class__(8, checkpoint.ts_us, checkpoint.head_hash, checkpoint.key_id,
                             checkpoint.prev_sig, checkpoint.sig),
        {signer.key_id: signer.public_key})


def test_rotate_wraps_under_the_new_version_and_old_values_still_open(rig: Rig) -> None:
    before = rig.bot.wrap(KEY, CTX)
    old = wrapped_version(before)
    new = rig.admin.rotate()
    assert new > old
    assert rig.admin.versions()[:2] == (new, old)
    rig.refresh_bot()
    after = rig.bot.wrap(KEY, CTX)
    assert wrapped_version(after) == new
    assert bytes(rig.bot.unwrap(before, CTX)) == KEY
    assert bytes(rig.bot.unwrap(after, CTX)) == KEY


def test_destroy_loses_exactly_the_oldest_version(rig: Rig) -> None:
    v1_value = rig.bot.wrap(KEY, CTX)
    v1 = wrapped_version(v1_value)
    v2 = rig.admin.rotate()
    v3 = rig.admin.rotate()
    rig.refresh_bot()
    v3_value = rig.bot.wrap(KEY, CTX)
    with pytest.raises(ProviderDenied):
        rig.admin.destroy_version(v3)  # the current one
    with pytest.raises(ProviderDenied):
        rig.admin.destroy_version(v2)  # not the oldest
    rig.admin.destroy_version(v1)
    assert rig.admin.versions() == (v3, v2)
    rig.refresh_bot()
    with pytest.raises(KeyVersionMissing):
        rig.bot.unwrap(v1_value, CTX)
    assert bytes(rig.bot.unwrap(v3_value, CTX)) == KEY


def test_provider_down(rig: Rig) -> None:
    _skip_unless(rig, rig.down, "down")
    assert rig.down is not None
    with pytest.raises(ProviderDown) as caught:
        rig.down()
    assert not isinstance(caught.value, ProviderThrottled)


def test_provider_throttled(rig: Rig) -> None:
    _skip_unless(rig, rig.throttled, "throttled")
    assert rig.throttled is not None
    with rig.throttled(), pytest.raises(ProviderThrottled):
        for _ in range(5):
            rig.bot.wrap(KEY, CTX)


def test_denied_operations(rig: Rig) -> None:
    _skip_unless(rig, rig.denied or None, "denied")
    for what, call, errors in rig.denied:
        with pytest.raises(errors):
            call()
            pytest.fail(f"{rig.name}: the bot's credentials could {what}")
    # Still usable afterwards: a refusal changed nothing.
    assert bytes(rig.bot.unwrap(rig.bot.wrap(KEY, CTX), CTX)) == KEY


def test_health_reports_where_the_checkpoint_key_lives(rig: Rig) -> None:
    health = rig.bot.health()
    assert health.provider == rig.name
    assert health.root_version == rig.admin.versions()[0]
    assert health.key_outside_process is (rig.name != "env")
