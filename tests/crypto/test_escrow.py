"""Escrow deposits and break-glass opening of an epoch's messages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from medcrypt.crypto.endpoint import escrow
from medcrypt.crypto.errors import DecryptionFailed, MalformedToken, WrongPairing
from medcrypt.crypto.keyless import wire
from medcrypt.crypto.keyless.wire import Direction
from tests.support.sessions import make_pair


def test_deposit_opens_and_break_glass_reads_the_epoch() -> None:
    p = make_pair()
    sent = [p.patient.encrypt(b"p0", clock=p.clock), p.patient.encrypt(b"p1", clock=p.clock)]
    replies = [p.physician.encrypt(b"d0", clock=p.clock), p.physician.encrypt(b"d1", clock=p.clock)]
    deposit = sent[0].escrow_deposit
    assert deposit is not None and replies[0].escrow_deposit is not None
    header = wire.parse_token(deposit).header
    assert header.kind is wire.Kind.ESCROW_DEPOSIT and header.epoch == 682
    assert header.direction is Direction.PATIENT_TO_PHYSICIAN
    key = escrow.open_deposit(bytes(p.escrow), deposit)
    other_side = escrow.open_deposit(bytes(p.escrow), replies[0].escrow_deposit)
    assert key.key == other_side.key and len(key.key) == 32
    assert key.patient_identity == p.patient_id.public
    assert key.physician_identity == p.physician_id.public
    tokens = [replies[1].token, sent[1].token, replies[0].token, sent[0].token, sent[1].token]
    opened = escrow.open_epoch_tokens(key, tokens)
    assert [m.body for m in opened] == [b"d1", b"p1", b"d0", b"p0", b"p1"]
    assert [m.position for m in opened] == [0, 1, 2, 3, 4]
    assert opened[0].direction is Direction.PHYSICIAN_TO_PATIENT and opened[0].index == 1


def test_deposit_tampering_and_wrong_key() -> None:
    p = make_pair()
    deposit = p.patient.encrypt(b"x", clock=p.clock).escrow_deposit
    assert deposit is not None
    with pytest.raises(DecryptionFailed):
        escrow.open_deposit(b"\x01" * 32, deposit)
    raw = wire.parse_token(deposit).raw
    for pos in (5, 20, 30, 60, len(raw) - 1):  # pairing, epoch, index, sealed box
        bad = bytearray(raw)
        bad[pos] ^= 1
        with pytest.raises((DecryptionFailed, MalformedToken)):
            escrow.open_deposit(bytes(p.escrow), wire.encode_token(bytes(bad)))
    with pytest.raises(MalformedToken):
        escrow.open_deposit(bytes(p.escrow), p.accept_token)


def test_break_glass_refuses_other_epoch_and_forgery() -> None:
    p = make_pair()
    first = p.patient.encrypt(b"nov", clock=p.clock)
    assert first.escrow_deposit is not None
    key = escrow.open_deposit(bytes(p.escrow), first.escrow_deposit)
    p.clock.set(p.clock.now() + timedelta(days=10))
    december = p.patient.encrypt(b"dec", clock=p.clock).token
    with pytest.raises(WrongPairing):
        escrow.open_epoch_tokens(key, [december])
    raw = bytearray(wire.parse_token(first.token).raw)
    raw[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        escrow.open_epoch_tokens(key, [wire.encode_token(bytes(raw))])
    with pytest.raises(MalformedToken):
        escrow.open_epoch_tokens(key, [first.escrow_deposit])
