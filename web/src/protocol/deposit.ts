/**
 * v3 escrow deposits (docs/PROTOCOL.md §24, `crypto/endpoint/v3/deposit.py`): the
 * starting chain key of one segment, signed by the sender, then sealed to the escrow
 * key. Nothing else goes in: no root, month seed, month root or DH secret.
 */

import { MalformedToken, WrongPairing } from "../crypto/errors.js";
import {
  type Rng, constantTimeEqual, ed25519Require, sealedBoxOpen, sealedBoxSeal,
} from "../crypto/primitives.js";
import { Reader, Writer, concat, label } from "./bytes.js";
import { DEPOSIT_LEN, type Direction } from "./v3wire.js";

const SIGNATURE_LABEL = label("MEDCRYPT v3 escrow deposit");
const FIELDS_LEN = 122;
export const PLAINTEXT_LEN = FIELDS_LEN + 64;

export interface PinnedKeys {
  readonly pairingId: Uint8Array; readonly transcriptHash: Uint8Array;
  readonly patientIdentity: Uint8Array; readonly physicianIdentity: Uint8Array;
  readonly escrowPublic: Uint8Array;
}

export interface Deposit {
  readonly pairingId: Uint8Array; readonly epoch: number; readonly direction: Direction;
  readonly chainId: Uint8Array; readonly startIndex: number; readonly chainKey: Uint8Array;
}

export interface DepositFields {
  pairingId: Uint8Array; transcriptHash: Uint8Array; epoch: number; direction: Direction;
  chainId: Uint8Array; startIndex: number; chainKey: Uint8Array;
}

export function makeDeposit(escrowPublic: Uint8Array, sign: (m: Uint8Array) => Uint8Array,
  f: DepositFields, rng: Rng): Uint8Array {
  const fields = new Writer().u8(3).bytes(f.pairingId, 16).bytes(f.transcriptHash, 32)
    .u32(f.epoch).u8(f.direction).bytes(f.chainId, 32).u32(f.startIndex)
    .bytes(f.chainKey, 32).finish();
  const signature = sign(concat(SIGNATURE_LABEL, fields, escrowPublic));
  return sealedBoxSeal(escrowPublic, concat(fields, signature), rng);
}

/** Open and verify one deposit against pinned keys (break-glass, and the vectors). */
export function openDeposit(escrowPrivate: Uint8Array, sealed: Uint8Array, pinned: PinnedKeys): Deposit {
  if (sealed.length !== DEPOSIT_LEN) {
    throw new MalformedToken("a v3 deposit is exactly 234 bytes");
  }
  const plain = sealedBoxOpen(escrowPrivate, sealed);
  if (plain.length !== PLAINTEXT_LEN) {
    throw new MalformedToken("deposit plaintext has the wrong length");
  }
  const fields = plain.subarray(0, FIELDS_LEN);
  const r = new Reader(fields);
  const version = r.u8();
  const pairingId = r.bytes(16);
  const transcript = r.bytes(32);
  const epoch = r.u32();
  const direction = r.u8();
  const chainId = r.bytes(32);
  const startIndex = r.u32();
  const chainKey = r.bytes(32);
  if (version !== 3 || (direction !== 0 && direction !== 1)) {
    throw new MalformedToken("deposit has an invalid field");
  }
  const sender = direction === 0 ? pinned.patientIdentity : pinned.physicianIdentity;
  ed25519Require(sender, concat(SIGNATURE_LABEL, fields, pinned.escrowPublic),
    plain.subarray(FIELDS_LEN));
  if (!(constantTimeEqual(pairingId, pinned.pairingId)
    && constantTimeEqual(transcript, pinned.transcriptHash))) {
    throw new WrongPairing("deposit belongs to another pairing");
  }
  return { pairingId, epoch, direction, chainId, startIndex, chainKey };
}
