/**
 * Every v3 derivation (docs/PROTOCOL.md §22, `crypto/endpoint/v3/kdf.py`), each one
 * line over HKDF/HMAC-SHA256. A segment key needs both the DH ratchet's seed and the
 * calendar's month root, so neither a copied state nor a shredded month reopens a month.
 */

import { LimitExceeded } from "../crypto/errors.js";
import { hkdfSha256, hmacSha256 } from "../crypto/primitives.js";
import { concat, label, u32, u8 } from "./bytes.js";

const ROOT_STEP = label("MEDCRYPT v3 root step");
const MONTH_ROOT = label("MEDCRYPT v3 month root");
const MONTH_ROOT_ADVANCE = label("MEDCRYPT v3 month root advance");
const SEGMENT_SEED = label("MEDCRYPT v3 segment seed");
const SEED_ADVANCE = label("MEDCRYPT v3 month seed advance");
const SEGMENT = label("MEDCRYPT v3 segment");
export const MAX_MONTH_WALK = 1200;
const MK_BYTE = new Uint8Array([1]);
const CK_BYTE = new Uint8Array([2]);

/** `KDF_RK`: (next root key, chain key, month seed). */
export function rootStep(rootKey: Uint8Array, dh: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
  const out = hkdfSha256(dh, rootKey, ROOT_STEP, 96);
  return [out.slice(0, 32), out.slice(32, 64), out.slice(64, 96)];
}

export function initialMonthRoot(rootKey: Uint8Array, pairingId: Uint8Array, startEpoch: number): Uint8Array {
  return hkdfSha256(rootKey, pairingId, concat(MONTH_ROOT, u32(startEpoch)));
}

export function advanceMonthRoot(monthRoot: Uint8Array, nextEpoch: number): Uint8Array {
  return hmacSha256(monthRoot, concat(MONTH_ROOT_ADVANCE, u32(nextEpoch)));
}

export function segmentSeed(monthSeed: Uint8Array, epoch: number): Uint8Array {
  return hmacSha256(monthSeed, concat(SEGMENT_SEED, u32(epoch)));
}

export function advanceMonthSeed(monthSeed: Uint8Array, nextEpoch: number): Uint8Array {
  return hmacSha256(monthSeed, concat(SEED_ADVANCE, u32(nextEpoch)));
}

export function segmentKey(seed: Uint8Array, monthRoot: Uint8Array, pairingId: Uint8Array,
  direction: 0 | 1, chainId: Uint8Array, epoch: number): Uint8Array {
  return hkdfSha256(concat(seed, monthRoot), pairingId,
    concat(SEGMENT, u8(direction), chainId, u32(epoch)));
}

/** `(MK_n, CK_{n+1})` from `CK_n`. */
export function chainStep(chainKey: Uint8Array): [Uint8Array, Uint8Array] {
  return [hmacSha256(chainKey, MK_BYTE), hmacSha256(chainKey, CK_BYTE)];
}

/** Advance a per-month key from `fromEpoch` to `toEpoch` (never backwards). */
export function walk(key: Uint8Array, fromEpoch: number, toEpoch: number,
  step: (k: Uint8Array, month: number) => Uint8Array): Uint8Array {
  if (toEpoch < fromEpoch) {
    throw new RangeError("a month walk never goes backwards");
  }
  if (toEpoch - fromEpoch > MAX_MONTH_WALK) {
    throw new LimitExceeded(`a walk of ${toEpoch - fromEpoch} months exceeds ${MAX_MONTH_WALK}`);
  }
  let out: Uint8Array = key.slice();
  for (let month = fromEpoch + 1; month <= toEpoch; month += 1) {
    out = step(out, month);
  }
  return out;
}
