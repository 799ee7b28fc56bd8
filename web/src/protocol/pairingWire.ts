/**
 * Keyless layouts of the v3 pairing tokens (docs/PROTOCOL.md §31,
 * `crypto/keyless/pairing_wire.py`): PAIR_REGISTER (65), PAIR_ACCEPT (179),
 * KEY_CONFIRM (146). Each has exactly one valid length.
 */

import { MalformedToken } from "../crypto/errors.js";
import { constantTimeEqual, sha256 } from "../crypto/primitives.js";
import { Reader, Writer, concat, label } from "./bytes.js";
import { MAX_EPOCH } from "./epochs.js";

export const KIND_PAIR_REGISTER = 2;
export const KIND_PAIR_ACCEPT = 3;
export const KIND_KEY_CONFIRM = 6;
export const METHOD_QR_OFFER = 1;
export const REGISTER_LEN = 65;
export const ACCEPT_LEN = 179;
export const CONFIRM_LEN = 146;
export const CONFIRM_SIGNED_LEN = CONFIRM_LEN - 64;
const LABEL_ADMISSION_HASH = label("MEDCRYPT v3 admission hash");
const LABEL_ACCEPT_HASH = label("MEDCRYPT v3 accept hash");

export interface RegisterV3 {
  readonly kind: "register";
  readonly pairingId: Uint8Array; readonly startEpoch: number; readonly method: number;
  readonly graceDays: number; readonly expiresAt: number; readonly admissionHash: Uint8Array;
}

export interface AcceptV3 {
  readonly kind: "accept";
  readonly pairingId: Uint8Array; readonly method: number; readonly admission: Uint8Array;
  readonly patientEphemeral: Uint8Array; readonly patientIdentity: Uint8Array;
  readonly signature: Uint8Array; readonly raw: Uint8Array;
}

export interface KeyConfirm {
  readonly kind: "confirm";
  readonly pairingId: Uint8Array; readonly acceptHash: Uint8Array;
  readonly confirmMac: Uint8Array; readonly signature: Uint8Array; readonly raw: Uint8Array;
}

export type PairingV3 = RegisterV3 | AcceptV3 | KeyConfirm;

/** `H_A = SHA-256("MEDCRYPT v3 admission hash" || pairing id || A)`. */
export function admissionHash(pairingId: Uint8Array, admission: Uint8Array): Uint8Array {
  if (pairingId.length !== 16 || admission.length !== 32) {
    throw new MalformedToken("pairing id or admission value has the wrong length");
  }
  return sha256(concat(LABEL_ADMISSION_HASH, pairingId, admission));
}

export function admits(registeredHash: Uint8Array, accept: AcceptV3): boolean {
  return constantTimeEqual(admissionHash(accept.pairingId, accept.admission), registeredHash);
}

/** `SHA-256("MEDCRYPT v3 accept hash" || PAIR_ACCEPT binary)`: names one accept. */
export function acceptHash(acceptRaw: Uint8Array): Uint8Array {
  if (acceptRaw.length !== ACCEPT_LEN) {
    throw new MalformedToken("accept token has the wrong length");
  }
  return sha256(concat(LABEL_ACCEPT_HASH, acceptRaw));
}

export function parseV3Pairing(raw: Uint8Array): PairingV3 {
  if (raw.length < 18 || raw[0] !== 3) {
    throw new MalformedToken("not a v3 pairing token");
  }
  const r = new Reader(raw, 2);
  switch (raw[1]) {
    case KIND_PAIR_REGISTER: {
      if (raw.length !== REGISTER_LEN) {
        throw new MalformedToken("registration token has the wrong length");
      }
      const pairingId = r.bytes(16);
      const startEpoch = r.u32();
      const method = r.u8();
      const graceDays = r.u16();
      const expiresAt = r.u64();
      const admissionHash_ = r.bytes(32);
      if (startEpoch >= MAX_EPOCH || method !== METHOD_QR_OFFER) {
        throw new MalformedToken("registration token has an invalid field");
      }
      return { kind: "register", pairingId, startEpoch, method, graceDays, expiresAt,
        admissionHash: admissionHash_ };
    }
    case KIND_PAIR_ACCEPT: {
      if (raw.length !== ACCEPT_LEN) {
        throw new MalformedToken("accept token has the wrong length");
      }
      const pairingId = r.bytes(16);
      const method = r.u8();
      if (method !== METHOD_QR_OFFER) {
        throw new MalformedToken("accept token names an unknown pairing method");
      }
      return { kind: "accept", pairingId, method, admission: r.bytes(32),
        patientEphemeral: r.bytes(32), patientIdentity: r.bytes(32), signature: r.bytes(64),
        raw: raw.slice() };
    }
    case KIND_KEY_CONFIRM: {
      if (raw.length !== CONFIRM_LEN) {
        throw new MalformedToken("key confirmation has the wrong length");
      }
      return { kind: "confirm", pairingId: r.bytes(16), acceptHash: r.bytes(32),
        confirmMac: r.bytes(32), signature: r.bytes(64), raw: raw.slice() };
    }
    default:
      throw new MalformedToken("not a v3 pairing token");
  }
}

export function encodeRegisterV3(pairingId: Uint8Array, startEpoch: number, graceDays: number,
  expiresAt: number, admissionHash_: Uint8Array): Uint8Array {
  if (startEpoch >= MAX_EPOCH) {
    throw new MalformedToken("registration field out of range");
  }
  return new Writer().u8(3).u8(KIND_PAIR_REGISTER).bytes(pairingId, 16, "pairing id")
    .u32(startEpoch).u8(METHOD_QR_OFFER).u16(graceDays).u64(expiresAt)
    .bytes(admissionHash_, 32, "admission hash").finish();
}

/** PAIR_ACCEPT v3 without its signature (115 bytes). */
export function acceptPrefix(pairingId: Uint8Array, admission: Uint8Array,
  patientEphemeral: Uint8Array, patientIdentity: Uint8Array): Uint8Array {
  return new Writer().u8(3).u8(KIND_PAIR_ACCEPT).bytes(pairingId, 16, "pairing id")
    .u8(METHOD_QR_OFFER).bytes(admission, 32, "admission value")
    .bytes(patientEphemeral, 32, "ephemeral key").bytes(patientIdentity, 32, "identity key")
    .finish();
}

/** KEY_CONFIRM without its signature: the bytes the physician's identity signs. */
export function confirmPrefix(pairingId: Uint8Array, acceptHash_: Uint8Array,
  confirmMac: Uint8Array): Uint8Array {
  return new Writer().u8(3).u8(KIND_KEY_CONFIRM).bytes(pairingId, 16, "pairing id")
    .bytes(acceptHash_, 32, "accept hash").bytes(confirmMac, 32, "confirmation MAC").finish();
}
