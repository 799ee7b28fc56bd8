"""Per-epoch, per-direction symmetric hash ratchet (Signal's chain keys).

``CK_0 = HKDF(K_e, salt = pairing id, info = "MEDCRYPT v2 chain <dir>" || u32(epoch))``;
for message ``n``: ``MK_n = HMAC-SHA256(CK_n, 0x01)`` and ``CK_{n+1} = HMAC-SHA256(CK_n,
0x02)``, then ``CK_n`` is forgotten.  The two directions use different labels, so a token
reflected to its sender is opened (if at all) with the wrong key.

A receiver keeps the message keys it skipped over (late or reordered tokens) in a
bounded store and deletes each one once used; a used index can never be opened again,
which is the forward secrecy inside the month: a copy of the state taken after a token
was read does not reopen it.  State only changes when the caller *commits* a key, which
it does after the whole token (AEAD and signature) verified, so a forged token cannot
burn keys or move the chain.

Bounds (docs/PROTOCOL.md): a single token may skip at most :data:`MAX_SKIP` indices
(:class:`LimitExceeded` beyond), and a chain stores at most :data:`MAX_STORED_SKIPPED`
skipped keys, dropping the oldest first (a dropped index then reads as a replay).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.errors import LimitExceeded, ReplayDetected, StorageError
from medcrypt.crypto.keyless.wire import Direction

MAX_SKIP = 1000
MAX_STORED_SKIPPED = 1000
MAX_INDEX = 0xFFFFFFFF
CHAIN_LABELS = {
    Direction.PATIENT_TO_PHYSICIAN: b"MEDCRYPT v2 chain patient->physician",
    Direction.PHYSICIAN_TO_PATIENT: b"MEDCRYPT v2 chain physician->patient",
}
_MK_BYTE = b"\x01"
_CK_BYTE = b"\x02"


def initial_chain_key(
    epoch_key: bytes | bytearray, pairing_id: bytes, epoch: int, direction: Direction,
) -> bytes:
    """``CK_0`` of one direction of one epoch."""
    return prim.hkdf_sha256(epoch_key, salt=pairing_id,
                         info=CHAIN_LABELS[direction] + struct.pack(">I", epoch))


def chain_step(chain_key: bytes | bytearray) -> tuple[bytes, bytes]:
    """``(MK_n, CK_{n+1})`` from ``CK_n``."""
    return prim.hmac_sha256(chain_key, _MK_BYTE), prim.hmac_sha256(chain_key, _CK_BYTE)


def message_key_at(chain_key: bytes | bytearray, steps: int) -> tuple[bytes, bytes]:
    """``(MK_{n+steps}, CK_{n+steps+1})`` from ``CK_n`` (break-glass, tests)."""
    ck = bytes(chain_key)
    for _ in range(steps):
        ck = chain_step(ck)[1]
    return chain_step(ck)


@dataclass(slots=True)
class SendChain:
    """The sending half: hands out each message key exactly once."""

    chain_key: bytearray
    next_index: int = 0

    def next_key(self) -> tuple[int, bytes]:
        if self.next_index > MAX_INDEX:
            raise LimitExceeded("this month's chain is exhausted; wait for the next epoch")
        mk, ck = chain_step(self.chain_key)
        prim.wipe(self.chain_key)
        self.chain_key = bytearray(ck)
        index = self.next_index
        self.next_index += 1
        return index, mk

    def export(self) -> dict[str, Any]:
        return {"ck": prim.b64e(self.chain_key), "next": self.next_index}

    @classmethod
    def load(cls, state: dict[str, Any]) -> SendChain:
        try:
            return cls(bytearray(prim.b64d(state["ck"], 32)), int(state["next"]))
        except (KeyError, TypeError, ValueError):
            raise StorageError("send chain state is damaged") from None


@dataclass(frozen=True, slots=True)
class PendingKey:
    """A message key looked up but not yet consumed (see :meth:`RecvChain.commit`)."""

    index: int
    message_key: bytes
    new_chain_key: bytes | None
    skipped: tuple[tuple[int, bytes], ...]


@dataclass(slots=True)
class RecvChain:
    """The receiving half: current chain key plus the bounded store of skipped keys."""

    chain_key: bytearray
    next_index: int = 0
    skipped: dict[int, bytes] = field(default_factory=dict)

    def lookup(self, index: int) -> PendingKey:
        """The key for ``index`` without changing any state."""
        if index < self.next_index:
            key = self.skipped.get(index)
            if key is None:
                raise ReplayDetected(f"message {index} was already opened or is too old")
            return PendingKey(index, key, None, ())
        gap = index - self.next_index
        if gap > MAX_SKIP:
            raise LimitExceeded(f"message {index} skips {gap} messages (limit {MAX_SKIP})")
        ck = bytes(self.chain_key)
        skipped: list[tuple[int, bytes]] = []
        for i in range(self.next_index, index):
            mk, ck = chain_step(ck)
            skipped.append((i, mk))
        mk, ck = chain_step(ck)
        return PendingKey(index, mk, ck, tuple(skipped))

    def commit(self, pending: PendingKey) -> None:
        """Consume the key: delete it, store the skipped ones, move the chain forward."""
        if pending.new_chain_key is None:
            self.skipped.pop(pending.index, None)
            return
        self.skipped.update(pending.skipped)
        while len(self.skipped) > MAX_STORED_SKIPPED:
            del self.skipped[min(self.skipped)]
        prim.wipe(self.chain_key)
        self.chain_key = bytearray(pending.new_chain_key)
        self.next_index = pending.index + 1

    def export(self) -> dict[str, Any]:
        return {
            "ck": prim.b64e(self.chain_key),
            "next": self.next_index,
            "skipped": {str(i): prim.b64e(k) for i, k in sorted(self.skipped.items())},
        }

    @classmethod
    def load(cls, state: dict[str, Any]) -> RecvChain:
        try:
            skipped = {int(i): prim.b64d(k, 32) for i, k in state["skipped"].items()}
            return cls(bytearray(prim.b64d(state["ck"], 32)), int(state["next"]), skipped)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise StorageError("receive chain state is damaged") from None

    def wipe(self) -> None:
        prim.wipe(self.chain_key)
        self.skipped.clear()
