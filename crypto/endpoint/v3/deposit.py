"""Escrow deposits of v3: one per chain segment, signed then sealed (PROTOCOL.md §23).

A deposit holds the starting chain key of *one* segment (one chain, one month, one
direction) and nothing it could be extended with - no root key, no month seed, no DH
private key, no month root - so the escrow key and one deposit open that segment's
messages and no other (ADR 0019).  The sender signs the contents together with the
escrow public key and seals the result to that key: the signature is visible to
no one but the escrow holder, and a deposit re-sealed to another escrow key fails.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.errors import MalformedToken, WrongPairing
from medcrypt.crypto.keyless.v3wire import DEPOSIT_LEN
from medcrypt.crypto.keyless.wire import Direction

DEPOSIT_VERSION = 3
SIGNATURE_LABEL = b"MEDCRYPT v3 escrow deposit"
#: version pairing transcript epoch direction chain-id start-index chain-key
_FIELDS = struct.Struct(">B16s32sIB32sI32s")
PLAINTEXT_LEN = _FIELDS.size + prim.ED25519_SIG_LEN  # 186
assert PLAINTEXT_LEN + prim.SEALED_BOX_OVERHEAD == DEPOSIT_LEN


@dataclass(frozen=True, slots=True)
class PinnedKeys:
    """What break-glass trusts, taken from a verified pinned-key record (never from the
    bot or from a deposit): the pairing, its transcript and both identity keys."""

    pairing_id: bytes
    transcript_hash: bytes
    patient_identity: bytes
    physician_identity: bytes
    escrow_public: bytes

    def sender(self, direction: Direction) -> bytes:
        if direction is Direction.PATIENT_TO_PHYSICIAN:
            return self.patient_identity
        return self.physician_identity


@dataclass(frozen=True, slots=True)
class Deposit:
    """An opened, verified deposit: the key of one segment."""

    pairing_id: bytes
    epoch: int
    direction: Direction
    chain_id: bytes
    start_index: int
    chain_key: bytes


def _signed(fields: bytes, escrow_public: bytes) -> bytes:
    return SIGNATURE_LABEL + fields + escrow_public


def make_deposit(
    escrow_public: bytes, sign: Callable[[bytes], bytes], *, pairing_id: bytes,
    transcript_hash: bytes, epoch: int, direction: Direction, chain_id: bytes,
    start_index: int, chain_key: bytes | bytearray, rng: prim.Rng = os.urandom,
) -> bytes:
    """The 234-byte sealed deposit of one segment (its ephemeral key comes from ``rng``)."""
    fields = _FIELDS.pack(DEPOSIT_VERSION, pairing_id, transcript_hash, epoch, direction,
                          chain_id, start_index, bytes(chain_key))
    signature = sign(_signed(fields, escrow_public))
    return prim.sealed_box_seal(escrow_public, fields + signature, rng=rng)


def open_deposit(escrow_private: bytes | bytearray, sealed: bytes, pinned: PinnedKeys) -> Deposit:
    """Open and verify one deposit against the pinned keys.

    A box that does not open or a signature that is not the pinned sender's is
    :class:`DecryptionFailed`; a valid deposit of another pairing or transcript is
    :class:`WrongPairing`.  Keys inside the deposit are never trusted: there are none.
    """
    if len(sealed) != DEPOSIT_LEN:
        raise MalformedToken("a v3 deposit is exactly 234 bytes")
    plain = prim.sealed_box_open(escrow_private, sealed)
    if len(plain) != PLAINTEXT_LEN:
        raise MalformedToken("deposit plaintext has the wrong length")
    fields, signature = plain[:_FIELDS.size], plain[_FIELDS.size:]
    (version, pairing_id, transcript, epoch, direction, chain_id, start_index,
     chain_key) = _FIELDS.unpack(fields)
    if version != DEPOSIT_VERSION or direction not in (0, 1):
        raise MalformedToken("deposit has an invalid field")
    sender = pinned.sender(Direction(direction))
    prim.ed25519_verify(sender, _signed(fields, pinned.escrow_public), signature)
    if not (prim.constant_time_equal(pairing_id, pinned.pairing_id)
            and prim.constant_time_equal(transcript, pinned.transcript_hash)):
        raise WrongPairing("deposit belongs to another pairing")
    return Deposit(pairing_id, epoch, Direction(direction), chain_id, start_index, chain_key)
