"""Every v3 derivation (docs/PROTOCOL.md §22), each a one-liner over HKDF/HMAC-SHA256.

Two independent ratchets meet in each chain segment key:

* the **DH ratchet** (root key -> chain key and month seed per DH step) heals the
  session after a passive attacker copied the state: it needs a fresh X25519 secret;
* the **month root** ``MR_e`` walks one way with the calendar and exists on the two
  companions only; deleting ``MR_e`` at grace end makes every segment of month ``e`` -
  of chains already seen *and* of chains not yet received - underivable.

A segment key needs both, so neither a copied state nor a shredded month can be
re-opened by the one that survives.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.errors import LimitExceeded
from medcrypt.crypto.keyless.wire import Direction

LABEL_ROOT_STEP = b"MEDCRYPT v3 root step"
LABEL_MONTH_ROOT = b"MEDCRYPT v3 month root"
LABEL_MONTH_ROOT_ADVANCE = b"MEDCRYPT v3 month root advance"
LABEL_SEGMENT_SEED = b"MEDCRYPT v3 segment seed"
LABEL_SEED_ADVANCE = b"MEDCRYPT v3 month seed advance"
LABEL_SEGMENT = b"MEDCRYPT v3 segment"
#: How many months one walk may cross (a chain idle this long cannot re-key; 100 years).
MAX_MONTH_WALK = 1200
_U32 = struct.Struct(">I")
_MK_BYTE = b"\x01"
_CK_BYTE = b"\x02"


def root_step(root_key: bytes | bytearray, dh_output: bytes) -> tuple[bytes, bytes, bytes]:
    """``KDF_RK``: (next root key, chain key, month seed), three independent HKDF blocks."""
    out = prim.hkdf_sha256(dh_output, salt=bytes(root_key), info=LABEL_ROOT_STEP, length=96)
    return out[:32], out[32:64], out[64:]


def initial_month_root(root_key: bytes | bytearray, pairing_id: bytes, start_epoch: int) -> bytes:
    """``MR_start`` from the pairing root ``RK0``."""
    return prim.hkdf_sha256(root_key, salt=pairing_id,
                            info=LABEL_MONTH_ROOT + _U32.pack(start_epoch))


def advance_month_root(month_root: bytes | bytearray, next_epoch: int) -> bytes:
    """``MR_e -> MR_{e+1}`` (``next_epoch = e + 1``): one way, so shredding is final."""
    return prim.hmac_sha256(month_root, LABEL_MONTH_ROOT_ADVANCE + _U32.pack(next_epoch))


def segment_seed(month_seed: bytes | bytearray, epoch: int) -> bytes:
    """``S_k`` from ``MS_k`` for a re-keyed segment of month ``k``."""
    return prim.hmac_sha256(month_seed, LABEL_SEGMENT_SEED + _U32.pack(epoch))


def advance_month_seed(month_seed: bytes | bytearray, next_epoch: int) -> bytes:
    """``MS_k -> MS_{k+1}`` (``next_epoch = k + 1``)."""
    return prim.hmac_sha256(month_seed, LABEL_SEED_ADVANCE + _U32.pack(next_epoch))


def segment_key(
    seed: bytes | bytearray, month_root: bytes | bytearray, *, pairing_id: bytes,
    direction: Direction, chain_id: bytes, epoch: int,
) -> bytes:
    """``CK_0`` of segment (chain ``chain_id``, month ``epoch``): needs ``S_k`` and ``MR_k``."""
    return prim.hkdf_sha256(bytes(seed) + bytes(month_root), salt=pairing_id,
                            info=LABEL_SEGMENT + bytes([direction]) + chain_id
                            + _U32.pack(epoch))


def chain_step(chain_key: bytes | bytearray) -> tuple[bytes, bytes]:
    """``(MK_n, CK_{n+1})`` from ``CK_n`` (v2's chain steps, unchanged)."""
    return prim.hmac_sha256_pair(chain_key, _MK_BYTE, _CK_BYTE)


def walk(
    key: bytes | bytearray, from_epoch: int, to_epoch: int,
    step: Callable[[bytes | bytearray, int], bytes],
) -> bytes:
    """Advance a per-month key from month ``from_epoch`` to ``to_epoch`` (not backwards)."""
    if to_epoch < from_epoch:
        raise ValueError("a month walk never goes backwards")
    if to_epoch - from_epoch > MAX_MONTH_WALK:
        raise LimitExceeded(f"a walk of {to_epoch - from_epoch} months exceeds {MAX_MONTH_WALK}")
    out = bytes(key)
    for month in range(from_epoch + 1, to_epoch + 1):
        out = step(out, month)
    return out
