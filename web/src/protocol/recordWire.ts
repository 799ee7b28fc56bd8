/**
 * Keyless PIN_RECORD token (docs/PROTOCOL.md §34.3, `crypto/keyless/record_wire.py`):
 * `0x03 | 0x08 | pairing id (16) | SealedBox(escrow_public, record (210))`, 276 bytes.
 */

import { MalformedToken } from "../crypto/errors.js";
import { type Rng, osRng, sealedBoxSeal } from "../crypto/primitives.js";
import { Reader, Writer, concat } from "./bytes.js";

export const KIND_PIN_RECORD = 8;
export const RECORD_LEN = 210;
export const RECORD_TOKEN_LEN = 18 + RECORD_LEN + 48;

export interface RecordToken {
  readonly kind: "record";
  readonly pairingId: Uint8Array;
  readonly sealed: Uint8Array;
}

export function encodeRecordToken(pairingId: Uint8Array, record: Uint8Array,
  escrowPublic: Uint8Array, rng: Rng = osRng): Uint8Array {
  if (record.length !== RECORD_LEN) {
    throw new MalformedToken("pinned-key record has the wrong length");
  }
  const head = new Writer().u8(3).u8(KIND_PIN_RECORD).bytes(pairingId, 16, "pairing id").finish();
  return concat(head, sealedBoxSeal(escrowPublic, record, rng));
}

export function parseRecordToken(raw: Uint8Array): RecordToken {
  if (raw.length !== RECORD_TOKEN_LEN) {
    throw new MalformedToken("pinned-key record token has the wrong length");
  }
  const r = new Reader(raw);
  if (r.u8() !== 3 || r.u8() !== KIND_PIN_RECORD) {
    throw new MalformedToken("not a pinned-key record token");
  }
  return { kind: "record", pairingId: r.bytes(16), sealed: r.rest() };
}
