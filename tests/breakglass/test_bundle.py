"""Bundle format: the bot's keyless encoder and the offline opener agree, and refuse damage."""

from __future__ import annotations

import contextlib
import itertools
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medcrypt.bot.cli.escrow import public_key_text, split_key
from medcrypt.bot.domain.breakglass.bundle import (
    build_bundle,
    bundle_digest,
    escrow_public_from_config,
)
from medcrypt.crypto.endpoint import breakglass
from medcrypt.crypto.errors import ConfigError, DecryptionFailed, MalformedToken, PolicyViolation
from medcrypt.crypto.keyless import bundle_wire
from medcrypt.crypto.keyless.wire import parse_token
from tests.support.breakglass import AT, CODE, items_of
from tests.support.conversation import Conversation, make_conversation, make_escrow
from tests.support.scheduling import TIMING_GATE


def conversation(public: bytes) -> Conversation:
    conv = make_conversation(public, AT)
    conv.send("physician", "Please take 5 mg twice a day.")
    conv.send("patient", "Understood, thank you.")
    conv.send("physician", "Call if the fever returns. ✓")
    return conv


def bundle_for(public: bytes, conv: Conversation, **extra: object) -> bytes:
    manifest = {"pairing": conv.pairing_id.hex(), "reason": "unconscious patient", **extra}
    return build_bundle(public, CODE, manifest, items_of(conv))


def test_every_pair_of_three_shares_opens_the_bundle() -> None:
    escrow = make_escrow()
    conv = conversation(escrow.public)
    data = bundle_for(escrow.public, conv)
    expected = sorted(p for _t, p, _e in conv.sent)
    for pair in itertools.permutations(escrow.shares, 2):
        opened = breakglass.open_bundle(data, list(pair))
        assert sorted(m.body for m in opened.messages) == expected
        assert opened.manifest["reason"] == "unconscious patient"
        assert opened.header.code == CODE and opened.unrecoverable == {}
    # all three together are also a valid set for a 2-of-3 split? No: SLIP-39 wants exactly T.
    with pytest.raises(PolicyViolation):
        breakglass.open_bundle(data, escrow.shares)


def test_messages_come_back_in_order_with_direction_and_time() -> None:
    escrow = make_escrow()
    conv = conversation(escrow.public)
    opened = breakglass.open_bundle(bundle_for(escrow.public, conv), escrow.shares[:2])
    assert [m.direction.name for m in opened.messages] == [
        "PHYSICIAN_TO_PATIENT", "PATIENT_TO_PHYSICIAN", "PHYSICIAN_TO_PATIENT"]
    assert [m.index for m in opened.messages] == [0, 0, 1]
    assert all(m.sent_at_iso.startswith("2026-11-03T09:00") for m in opened.messages)


def test_one_share_is_refused() -> None:
    escrow = make_escrow()
    data = bundle_for(escrow.public, conversation(escrow.public))
    with pytest.raises(PolicyViolation, match="Wrong number of mnemonics"):
        breakglass.open_bundle(data, escrow.shares[:1])


def test_shares_of_different_splits_are_refused() -> None:
    escrow = make_escrow()
    other = make_escrow()
    data = bundle_for(escrow.public, conversation(escrow.public))
    with pytest.raises((PolicyViolation, MalformedToken)) as err:
        breakglass.open_bundle(data, [escrow.shares[0], other.shares[1]])
    assert escrow.shares[0].split()[0] not in str(err.value).split()


def test_same_split_of_another_key_is_refused_as_wrong_key() -> None:
    """Two valid shares of the *wrong* escrow key: detected before decryption."""
    escrow, other = make_escrow(), make_escrow()
    data = bundle_for(escrow.public, conversation(escrow.public))
    with pytest.raises(DecryptionFailed, match="do not recover the escrow key"):
        breakglass.open_bundle(data, other.shares[:2])


def test_passphrase_is_needed_and_checked() -> None:
    escrow = make_escrow(passphrase=b"clinic night safe")
    data = bundle_for(escrow.public, conversation(escrow.public))
    assert breakglass.open_bundle(data, escrow.shares[1:], b"clinic night safe").messages
    with pytest.raises(DecryptionFailed):
        breakglass.open_bundle(data, escrow.shares[1:], b"wrong")
    with pytest.raises(DecryptionFailed):
        breakglass.open_bundle(data, escrow.shares[1:])


def test_mistyped_word_is_a_clear_error() -> None:
    escrow = make_escrow()
    data = bundle_for(escrow.public, conversation(escrow.public))
    words = escrow.shares[1].split()
    words[5] = "zebra" if words[5] != "zebra" else "acid"
    with pytest.raises(MalformedToken, match="share 2 is not a valid SLIP-39 mnemonic"):
        breakglass.open_bundle(data, [escrow.shares[0], " ".join(words)])


def test_every_flipped_byte_is_refused() -> None:
    escrow = make_escrow()
    data = bundle_for(escrow.public, conversation(escrow.public))
    key = bytearray(escrow.private)
    step = max(1, len(data) // 97)
    for pos in range(0, len(data), step):
        bad = bytearray(data)
        bad[pos] ^= 0x01
        with pytest.raises((MalformedToken, DecryptionFailed)):
            breakglass.open_contents(key, breakglass.unseal(key, bytes(bad)))
    with pytest.raises((MalformedToken, DecryptionFailed)):
        breakglass.unseal(key, data[:-1])
    with pytest.raises((MalformedToken, DecryptionFailed)):
        breakglass.unseal(key, data + b"\x00")


def test_header_cannot_be_swapped_between_bundles() -> None:
    """The clear header (request code) is repeated inside the sealed box."""
    escrow = make_escrow()
    data = bundle_for(escrow.public, conversation(escrow.public))
    swapped = bundle_wire.encode_header("ffffffffff", escrow.public) + data[bundle_wire.HEADER_LEN:]
    with pytest.raises(MalformedToken, match="header was altered"):
        breakglass.unseal(escrow.private, swapped)


def test_a_token_of_another_pairing_in_the_bundle_is_refused() -> None:
    escrow = make_escrow()
    conv, stranger = conversation(escrow.public), conversation(escrow.public)
    manifest = {"pairing": conv.pairing_id.hex()}
    data = build_bundle(escrow.public, CODE, manifest, items_of(conv) + items_of(stranger)[:1])
    with pytest.raises(MalformedToken, match="another pairing"):
        breakglass.open_bundle(data, escrow.shares[:2])


def test_messages_without_deposit_are_counted_not_opened() -> None:
    escrow = make_escrow()
    conv = conversation(escrow.public)
    only_messages = [parse_token(t).raw for t, _p, _e in conv.sent]
    data = build_bundle(escrow.public, CODE, {"pairing": conv.pairing_id.hex()}, only_messages)
    opened = breakglass.open_bundle(data, escrow.shares[:2])
    assert opened.messages == [] and opened.unrecoverable == {conv.sent[0][2]: 3}


def test_not_a_bundle() -> None:
    with pytest.raises(MalformedToken):
        bundle_wire.parse_header(b"MCF2" + bytes(60))
    with pytest.raises(MalformedToken, match="version"):
        bundle_wire.parse_header(b"MCBG\x02" + b"0" * 10 + bytes(32))
    with pytest.raises(MalformedToken):
        bundle_wire.parse_header(b"MCBG")


def test_config_key_forms() -> None:
    escrow = make_escrow()
    assert escrow_public_from_config(public_key_text(escrow.public)) == escrow.public
    for bad in ("", "!!", public_key_text(b"\x01" * 16)):
        with pytest.raises(ConfigError, match=r"clinic\.escrow_public_key"):
            escrow_public_from_config(bad)


def test_split_key_rules() -> None:
    secret = os.urandom(32)
    assert len(split_key(secret, 5, 3)) == 5
    for shares, threshold in ((3, 1), (3, 4), (0, 0), (17, 2)):
        with pytest.raises(ConfigError):
            split_key(secret, shares, threshold)


def test_digest_is_of_the_file() -> None:
    assert bundle_digest(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_parse_inner_never_raises_anything_but_malformed(body: bytes) -> None:
    header = bundle_wire.BundleHeader(1, CODE, bytes(32))
    raw_header = bundle_wire.encode_header(CODE, bytes(32))
    for inner in (body, raw_header + body):
        with contextlib.suppress(MalformedToken):
            breakglass.parse_inner(header, raw_header, inner)


@TIMING_GATE
def test_forged_far_index_is_refused_before_walking_the_chain() -> None:
    """Anyone can seal to the public escrow key: a bundle must not stall the opener."""
    import time

    from medcrypt.crypto.errors import LimitExceeded
    from medcrypt.crypto.keyless.wire import Direction, Kind, encode_sealed_header

    escrow = make_escrow()
    conv = conversation(escrow.public)
    forged = encode_sealed_header(Kind.MESSAGE, conv.pairing_id, epoch=conv.sent[0][2],
                                  direction=Direction.PATIENT_TO_PHYSICIAN, index=2**32 - 1,
                                  nonce=bytes(24)) + bytes(300)
    data = build_bundle(escrow.public, CODE, {"pairing": conv.pairing_id.hex()},
                        [*items_of(conv), forged])
    start = time.monotonic()
    with pytest.raises(LimitExceeded):
        breakglass.open_bundle(data, escrow.shares[:2])
    assert time.monotonic() - start < 30  # hours without the bound; not a benchmark
