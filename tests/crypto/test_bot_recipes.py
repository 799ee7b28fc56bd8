"""The two recipes the bot side uses instead of crypto._primitives.

* keyless ``seal_to_public_key``: libsodium's sealed box, which the running bot uses to
  seal break-glass bundles to the escrow PUBLIC key;
* server ``create_escrow_key`` / ``split_escrow_key``: the offline ``escrow init``
  ceremony, which hands out only the public key and verified SLIP-39 shares.

The bundle digest below was computed with the bot's encoder as it stood before the
recipe existed (commit 9001fa9), so it pins that no byte of the bundle format moved.
"""

from __future__ import annotations

import hashlib
import itertools

import nacl.bindings
import nacl.public
import pytest

from medcrypt.bot.domain.breakglass.bundle import build_bundle
from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint.breakglass import recover_escrow_key
from medcrypt.crypto.errors import ConfigError, MalformedToken
from medcrypt.crypto.keyless.sealing import SEALED_OVERHEAD, seal_to_public_key
from medcrypt.crypto.server import escrow_key
from medcrypt.crypto.server.escrow_key import check_layout, create_escrow_key, split_escrow_key


def det_rng(label: bytes):  # type: ignore[no-untyped-def]
    counter = [0]

    def rng(n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(label + counter[0].to_bytes(8, "big")).digest()
            counter[0] += 1
        return out[:n]
    return rng


# --------------------------------------------------------------------------- sealing


def test_seal_to_public_key_is_a_libsodium_sealed_box() -> None:
    recipient = nacl.public.PrivateKey(bytes(range(32)))
    sealed = seal_to_public_key(bytes(recipient.public_key), b"bundle", rng=det_rng(b"e"))
    assert len(sealed) == len(b"bundle") + SEALED_OVERHEAD
    assert nacl.public.SealedBox(recipient).decrypt(sealed) == b"bundle"
    # the ephemeral key came from the injected rng, so vectors can pin the bytes
    assert sealed[:32] == nacl.bindings.crypto_scalarmult_base(det_rng(b"e")(32))
    assert sealed == seal_to_public_key(bytes(recipient.public_key), b"bundle",
                                        rng=det_rng(b"e"))
    with pytest.raises(MalformedToken):
        seal_to_public_key(bytes(31), b"x")


def test_seal_zeroes_the_ephemeral_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    esk = det_rng(b"eph")(32)
    wiped: list[tuple[bytes, bytearray]] = []
    real = prim.wipe

    def spy(buffer: bytearray | None) -> None:
        assert buffer is not None
        wiped.append((bytes(buffer), buffer))
        real(buffer)

    monkeypatch.setattr(prim, "wipe", spy)
    seal_to_public_key(bytes(range(1, 33)), b"m", rng=det_rng(b"eph"))
    assert [before for before, _buf in wiped] == [esk]
    assert not any(wiped[0][1])


def test_bundle_bytes_are_unchanged_by_the_recipe() -> None:
    data = build_bundle(bytes(range(1, 33)), "0123456789",
                        {"pairing": "ab" * 16, "reason": "vector"},
                        [b"\x01" * 40, b"item two"], rng=det_rng(b"bundle"))
    assert (len(data), hashlib.sha256(data).hexdigest()) == (
        368, "d746c3f6c0a68657ac790cd634dd8464c62ee272c6d123fc2751aca03ea3fda4")


# --------------------------------------------------------------------------- escrow key


@pytest.mark.parametrize(("shares", "threshold"), [(3, 2), (5, 3), (1, 1)])
def test_create_escrow_key_shares_recover_the_private_half(shares: int, threshold: int) -> None:
    made = create_escrow_key(shares, threshold, rng=det_rng(b"escrow"))
    private = det_rng(b"escrow")(32)
    assert made.public == nacl.bindings.crypto_scalarmult_base(private)
    assert len(made.shares) == shares and len(set(made.shares)) == shares
    for quorum in itertools.combinations(made.shares, threshold):
        assert bytes(recover_escrow_key(list(quorum))) == private


def test_create_escrow_key_with_a_passphrase() -> None:
    made = create_escrow_key(3, 2, b"night shift 42", rng=det_rng(b"escrow-pp"))
    private = det_rng(b"escrow-pp")(32)
    assert bytes(recover_escrow_key(list(made.shares[1:]), b"night shift 42")) == private
    # SLIP-39 without the passphrase yields another secret, never the key
    assert bytes(recover_escrow_key(list(made.shares[1:]))) != private


def test_create_escrow_key_zeroes_the_private_key(monkeypatch: pytest.MonkeyPatch) -> None:
    private = det_rng(b"wipe")(32)
    wiped: list[tuple[bytes, bytearray]] = []
    real = prim.wipe

    def spy(buffer: bytearray | None) -> None:
        assert buffer is not None
        wiped.append((bytes(buffer), buffer))
        real(buffer)

    monkeypatch.setattr(prim, "wipe", spy)
    create_escrow_key(3, 2, rng=det_rng(b"wipe"))
    # the drawn key and each recombined copy (3 quorums of 2) were zeroed
    assert [before for before, _buf in wiped] == [private] * 4
    assert all(not any(buf) for _before, buf in wiped)


@pytest.mark.parametrize(("shares", "threshold", "key"), [
    (3, 1, "threshold"), (3, 4, "threshold"), (0, 0, "shares"), (17, 2, "shares"),
])
def test_layouts_one_holder_could_open_are_refused_before_any_key_exists(
        shares: int, threshold: int, key: str) -> None:
    def no_rng(_n: int) -> bytes:
        raise AssertionError("a key was drawn for a refused layout")

    with pytest.raises(ConfigError, match=f"^config error: {key}: "):
        check_layout(shares, threshold)
    with pytest.raises(ConfigError):
        create_escrow_key(shares, threshold, rng=no_rng)
    with pytest.raises(ConfigError):
        split_escrow_key(bytes(32), shares, threshold)


def test_a_split_that_does_not_recombine_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The quorum check is real: a library returning a wrong secret stops the ceremony."""
    monkeypatch.setattr(escrow_key.shamir_mnemonic, "combine_mnemonics",
                        lambda _quorum, _passphrase: bytes(32))
    with pytest.raises(ConfigError, match="did not recombine"):
        split_escrow_key(det_rng(b"x")(32), 3, 2)
