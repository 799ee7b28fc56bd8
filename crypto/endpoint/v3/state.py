"""The v3 session's chains as data, and their ``medcrypt-session/3`` JSON form (§28).

Only data and (de)serialisation live here; what may change the data, and when, is
:mod:`medcrypt.crypto.endpoint.v3.session`.  Keys are ``bytearray`` so they can be
wiped; in JSON every byte string is standard base64 with padding, every integer a
JSON number, an absent key ``null``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.errors import StorageError


def _key(value: bytearray | None) -> str | None:
    return None if value is None else prim.b64e(value)


def _load_key(value: object) -> bytearray | None:
    return None if value is None else bytearray(prim.b64d(value, 32))


def _int(value: object) -> int:
    """A non-negative JSON integer (not a bool, not a numeric string)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise StorageError("session state holds an invalid number")
    return value


@dataclass(slots=True)
class SendChain:
    """This side's current sending chain: its ratchet key pair and current segment.

    ``first_seed`` is the chain key of the chain's first month until that month's
    segment is made (or shredded); ``seed`` is the month seed ``MS_{seed_month}``.
    ``segment_epoch``/``next_index`` describe the latest segment used (kept after its
    key is shredded, because the next segment's header names it as the previous one).
    """

    ratchet_private: bytearray
    ratchet_public: bytes
    chain_epoch: int
    first_seed: bytearray | None
    seed: bytearray
    seed_month: int
    segment_epoch: int | None = None
    chain_key: bytearray | None = None
    next_index: int = 0
    prev_epoch: int = 0
    prev_len: int = 0
    deposit: bytes | None = None

    def export(self) -> dict[str, Any]:
        return {
            "ratchet_private": prim.b64e(self.ratchet_private),
            "ratchet_public": prim.b64e(self.ratchet_public),
            "chain_epoch": self.chain_epoch,
            "first_seed": _key(self.first_seed),
            "seed": prim.b64e(self.seed),
            "seed_month": self.seed_month,
            "segment_epoch": self.segment_epoch,
            "chain_key": _key(self.chain_key),
            "next_index": self.next_index,
            "prev_epoch": self.prev_epoch,
            "prev_len": self.prev_len,
            "deposit": None if self.deposit is None else prim.b64e(self.deposit),
        }

    @classmethod
    def load(cls, s: dict[str, Any]) -> SendChain:
        segment = s["segment_epoch"]
        deposit = s["deposit"]
        return cls(
            bytearray(prim.b64d(s["ratchet_private"], 32)), prim.b64d(s["ratchet_public"], 32),
            _int(s["chain_epoch"]), _load_key(s["first_seed"]),
            bytearray(prim.b64d(s["seed"], 32)), _int(s["seed_month"]),
            None if segment is None else _int(segment), _load_key(s["chain_key"]),
            _int(s["next_index"]), _int(s["prev_epoch"]), _int(s["prev_len"]),
            None if deposit is None else prim.b64d(deposit, 234))

    def wipe(self) -> None:
        for buffer in (self.ratchet_private, self.first_seed, self.seed, self.chain_key):
            prim.wipe(buffer)


@dataclass(slots=True)
class RecvSegment:
    """One month of one peer chain: its chain key (None once closed) and skipped keys."""

    chain_key: bytearray | None
    next_index: int = 0
    skipped: dict[int, bytes] = field(default_factory=dict)

    def export(self) -> dict[str, Any]:
        return {"chain_key": _key(self.chain_key), "next_index": self.next_index,
                "skipped": {str(i): prim.b64e(k) for i, k in sorted(self.skipped.items())}}

    @classmethod
    def load(cls, s: dict[str, Any]) -> RecvSegment:
        skipped = {_int(int(i)): prim.b64d(k, 32) for i, k in s["skipped"].items()}
        return cls(_load_key(s["chain_key"]), _int(s["next_index"]), skipped)

    def wipe(self) -> None:
        prim.wipe(self.chain_key)
        self.chain_key = None
        self.skipped.clear()


@dataclass(slots=True)
class RecvChain:
    """A peer chain (identified by the peer's ratchet public key) and its live segments."""

    chain_id: bytes
    chain_epoch: int
    seed: bytearray
    seed_month: int
    segments: dict[int, RecvSegment] = field(default_factory=dict)

    def skipped_count(self) -> int:
        return sum(len(s.skipped) for s in self.segments.values())

    def export(self) -> dict[str, Any]:
        return {"chain_id": prim.b64e(self.chain_id), "chain_epoch": self.chain_epoch,
                "seed": prim.b64e(self.seed), "seed_month": self.seed_month,
                "segments": {str(e): s.export() for e, s in sorted(self.segments.items())}}

    @classmethod
    def load(cls, s: dict[str, Any]) -> RecvChain:
        segments = {_int(int(e)): RecvSegment.load(v) for e, v in s["segments"].items()}
        return cls(prim.b64d(s["chain_id"], 32), _int(s["chain_epoch"]),
                   bytearray(prim.b64d(s["seed"], 32)), _int(s["seed_month"]), segments)

    def wipe(self) -> None:
        prim.wipe(self.seed)
        for segment in self.segments.values():
            segment.wipe()
        self.segments.clear()
