/**
 * The v2 key schedule (docs/PROTOCOL.md §5-§6, `crypto/endpoint/keyschedule.py`): epoch
 * keys that walk one way with the calendar, and per-direction chains. The web companion
 * never makes a v2 pairing; this is here so the v2 vectors pass in the browser too (the
 * issue's bar) and so a later reader of v2 history has checked derivations to start from.
 */

import { hkdfSha256 } from "../crypto/primitives.js";
import { concat, label, u32 } from "./bytes.js";
import type { Direction } from "./v3wire.js";

const EPOCH_0 = label("MEDCRYPT v2 epoch 0");
const EPOCH_ADVANCE = label("MEDCRYPT v2 epoch advance");
const CHAIN = [label("MEDCRYPT v2 chain patient->physician"),
  label("MEDCRYPT v2 chain physician->patient")] as const;

/** `K_start = HKDF(root, no salt, "MEDCRYPT v2 epoch 0" || u32(start))`. */
export function startKey(root: Uint8Array, startEpoch: number): Uint8Array {
  return hkdfSha256(root, null, concat(EPOCH_0, u32(startEpoch)));
}

/** `K_{e+1} = HKDF(K_e, no salt, "MEDCRYPT v2 epoch advance" || u32(e+1))`. */
export function advance(epochKey: Uint8Array, nextEpoch: number): Uint8Array {
  return hkdfSha256(epochKey, null, concat(EPOCH_ADVANCE, u32(nextEpoch)));
}

/** `CK_0(e, d) = HKDF(K_e, salt = pairing id, L_d || u32(e))`. */
export function chainKey0(epochKey: Uint8Array, pairingId: Uint8Array, direction: Direction,
  epoch: number): Uint8Array {
  return hkdfSha256(epochKey, pairingId, concat(CHAIN[direction], u32(epoch)));
}

export { chainStep } from "./v3kdf.js";
