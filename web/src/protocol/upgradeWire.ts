/**
 * Keyless UPGRADE tokens (kind 7, docs/PROTOCOL.md §35, `crypto/keyless/upgrade_wire.py`).
 * The web companion never upgrades a v2 pairing (it makes only new v3 pairings), but it
 * must read every kind it can receive, and refuse each malformed one with a typed error.
 */

import { MalformedToken } from "../crypto/errors.js";
import { sha256 } from "../crypto/primitives.js";
import { Reader, concat, label } from "./bytes.js";
import { MAX_EPOCH } from "./epochs.js";

export const KIND_UPGRADE = 7;
export const OFFER_SIGNED_LEN = 98;
export const ANSWER_PREFIX_LEN = 83;
export const OFFER_LEN = OFFER_SIGNED_LEN + 64;
export const ANSWER_LEN = ANSWER_PREFIX_LEN + 64;

export interface UpgradeOffer {
  readonly kind: "upgrade-offer";
  readonly pairingId: Uint8Array; readonly startEpoch: number; readonly graceDays: number;
  readonly expiresAt: number; readonly escrowPublic: Uint8Array | null;
  readonly physicianEphemeral: Uint8Array; readonly signature: Uint8Array;
  readonly raw: Uint8Array;
}

export interface UpgradeAnswer {
  readonly kind: "upgrade-answer";
  readonly pairingId: Uint8Array; readonly offerHash: Uint8Array;
  readonly patientEphemeral: Uint8Array; readonly signature: Uint8Array;
  readonly raw: Uint8Array;
}

export type Upgrade = UpgradeOffer | UpgradeAnswer;

export function offerHash(offerRaw: Uint8Array): Uint8Array {
  if (offerRaw.length !== OFFER_LEN) {
    throw new MalformedToken("upgrade offer has the wrong length");
  }
  return sha256(concat(label("MEDCRYPT v3 upgrade offer hash"), offerRaw));
}

export function parseUpgrade(raw: Uint8Array): Upgrade {
  if (raw.length < 19 || raw[0] !== 3 || raw[1] !== KIND_UPGRADE) {
    throw new MalformedToken("not a v3 upgrade token");
  }
  const r = new Reader(raw, 2);
  const pairingId = r.bytes(16);
  const step = r.u8();
  if (step === 1) {
    if (raw.length !== OFFER_LEN) {
      throw new MalformedToken("upgrade offer has the wrong length");
    }
    const startEpoch = r.u32();
    const graceDays = r.u16();
    const expiresAt = r.u64();
    const flag = r.u8();
    const escrow = r.bytes(32);
    const physicianEphemeral = r.bytes(32);
    if (startEpoch >= MAX_EPOCH || (flag !== 0 && flag !== 1)
      || (flag === 0 && escrow.some((b) => b !== 0))) {
      throw new MalformedToken("upgrade offer has an invalid field");
    }
    return { kind: "upgrade-offer", pairingId, startEpoch, graceDays, expiresAt,
      escrowPublic: flag ? escrow : null, physicianEphemeral, signature: r.bytes(64),
      raw: raw.slice() };
  }
  if (step === 2) {
    if (raw.length !== ANSWER_LEN) {
      throw new MalformedToken("upgrade answer has the wrong length");
    }
    return { kind: "upgrade-answer", pairingId, offerHash: r.bytes(32),
      patientEphemeral: r.bytes(32), signature: r.bytes(64), raw: raw.slice() };
  }
  throw new MalformedToken("upgrade token names an unknown step");
}
