"""Clinic escrow: epoch keys sealed to the clinic, and break-glass opening (DESIGN 3.4).

A companion seals each epoch key it uses to the clinic's escrow X25519 public key (a
libsodium sealed box) and hands the ESCROW_DEPOSIT token to the bot with its first
message of the epoch; the bot stores it opaquely and deletes it when the epoch is
shredded.  Only the escrow private key - split into SLIP-39 shares, 2 of 3 needed -
opens a deposit, offline, in break-glass.

Deposit layout: the 51-byte token header (kind ESCROW_DEPOSIT, pairing id, epoch, the
depositing side's direction, index 0, 24 random bytes) followed by
``sealed_box(escrow_pk, header || K_e || patient identity || physician identity)``.
Sealing the header inside binds the deposit to its pairing and epoch (a sealed box has
no associated data); the identity keys let break-glass verify who signed each message.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint import envelope
from medcrypt.crypto.endpoint.envelope import ContentType
from medcrypt.crypto.endpoint.ratchet import chain_step, initial_chain_key
from medcrypt.crypto.errors import DecryptionFailed, MalformedToken, WrongPairing
from medcrypt.crypto.keyless.wire import (
    MESSAGE_HEADER_LEN,
    NONCE_LEN,
    Direction,
    Kind,
    encode_sealed_header,
    encode_token,
    parse_token,
)

_SEALED_LEN = MESSAGE_HEADER_LEN + 32 + 32 + 32


@dataclass(frozen=True, slots=True)
class EpochKey:
    """An opened deposit: one epoch's key and the two identity keys pinned at pairing."""

    pairing_id: bytes
    epoch: int
    key: bytes
    patient_identity: bytes
    physician_identity: bytes


@dataclass(frozen=True, slots=True)
class RecoveredMessage:
    """A message opened in break-glass (signature verified against the pinned identity)."""

    position: int
    direction: Direction
    index: int
    content_type: ContentType
    body: bytes
    sent_at: datetime


def make_deposit(
    escrow_public: bytes, *, pairing_id: bytes, epoch: int, direction: Direction,
    epoch_key: bytes | bytearray, patient_identity: bytes, physician_identity: bytes,
    rng: prim.Rng = os.urandom,
) -> str:
    """The ESCROW_DEPOSIT token text for ``epoch_key``."""
    header = encode_sealed_header(Kind.ESCROW_DEPOSIT, pairing_id, epoch=epoch,
                                  direction=direction, index=0, nonce=rng(NONCE_LEN))
    inner = bytearray(header + bytes(epoch_key) + patient_identity + physician_identity)
    try:
        if len(inner) != _SEALED_LEN:
            raise MalformedToken("epoch key and identity keys must be 32 bytes each")
        return encode_token(header + prim.sealed_box_seal(escrow_public, bytes(inner), rng=rng))
    finally:
        prim.wipe(inner)


def open_deposit(escrow_private_key: bytes | bytearray, deposit_token: str) -> EpochKey:
    """Open a deposit with the (reassembled) escrow private key."""
    token = parse_token(deposit_token)
    if token.header.kind is not Kind.ESCROW_DEPOSIT or token.header.pairing_id is None:
        raise MalformedToken("expected an escrow deposit token")
    inner = prim.sealed_box_open(escrow_private_key, token.body)
    if len(inner) != _SEALED_LEN or not prim.constant_time_equal(
            inner[:MESSAGE_HEADER_LEN], token.header_bytes):
        raise DecryptionFailed
    rest = inner[MESSAGE_HEADER_LEN:]
    epoch = token.header.epoch
    assert epoch is not None  # MESSAGE/ESCROW_DEPOSIT headers always carry one
    return EpochKey(token.header.pairing_id, epoch, rest[:32], rest[32:64], rest[64:96])


def open_epoch_tokens(epoch_key: EpochKey, tokens: Iterable[str]) -> list[RecoveredMessage]:
    """Open every MESSAGE token of the deposit's pairing and epoch (break-glass).

    Walks each direction's chain once, in index order, so a month of messages costs one
    HMAC pair per index.  A token of another pairing or epoch raises WrongPairing; a
    forged one DecryptionFailed.  Results keep the order of ``tokens`` (``position``).
    """
    parsed = [parse_token(t) for t in tokens]
    for token in parsed:
        h = token.header
        if h.kind is not Kind.MESSAGE:
            raise MalformedToken("break-glass opens MESSAGE tokens only")
        if h.pairing_id != epoch_key.pairing_id or h.epoch != epoch_key.epoch:
            raise WrongPairing("token belongs to another pairing or epoch than the deposit")
    signer = {Direction.PATIENT_TO_PHYSICIAN: epoch_key.patient_identity,
              Direction.PHYSICIAN_TO_PATIENT: epoch_key.physician_identity}
    order = sorted(range(len(parsed)), key=lambda i: (parsed[i].header.direction or 0,
                                                       parsed[i].header.index or 0))
    chains: dict[Direction, tuple[int, bytes]] = {}
    results: dict[int, RecoveredMessage] = {}
    for position in order:
        token = parsed[position]
        direction, index = token.header.direction, token.header.index
        assert direction is not None and index is not None
        at, ck = chains.get(direction) or (0, initial_chain_key(
            epoch_key.key, epoch_key.pairing_id, epoch_key.epoch, direction))
        while at < index:
            ck = chain_step(ck)[1]
            at += 1
        mk, _next = chain_step(ck)
        chains[direction] = (at, ck)
        inner = prim.xchacha_decrypt(mk, token.nonce, token.body, token.header_bytes)
        env = envelope.open_(token.header_bytes, inner, signer[direction])
        results[position] = RecoveredMessage(position, direction, index, env.content_type,
                                             env.body, env.sent_at)
    return [results[i] for i in range(len(parsed))]
