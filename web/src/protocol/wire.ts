/**
 * Every token kind the web companion can receive, parsed strictly (docs/PROTOCOL.md §3,
 * §21, §31, §34.3, §35; `crypto/keyless/wire.py`). The web app only makes v3 pairings,
 * but it must read - and refuse with a typed error - whatever arrives: v2 MESSAGE,
 * PAIR_REGISTER, PAIR_ACCEPT, ESCROW_DEPOSIT and PART, and every v3 kind.
 * Only {@link MalformedToken} is ever raised here.
 */

import { MalformedToken } from "../crypto/errors.js";
import { Reader, Writer } from "./bytes.js";
import { MAX_EPOCH } from "./epochs.js";
import { type PairingV3, parseV3Pairing } from "./pairingWire.js";
import { type RecordToken, parseRecordToken } from "./recordWire.js";
import { MAX_TOKEN_BYTES, decodeToken } from "./text.js";
import { type Upgrade, parseUpgrade } from "./upgradeWire.js";
import { type Direction, type MessageTokenV3, parseMessage } from "./v3wire.js";

export const KIND = {
  MESSAGE: 1, PAIR_REGISTER: 2, PAIR_ACCEPT: 3, ESCROW_DEPOSIT: 4, PART: 5,
  KEY_CONFIRM: 6, UPGRADE: 7, PIN_RECORD: 8,
} as const;

export const MESSAGE_HEADER_V2_LEN = 51;
export const PART_HEADER_LEN = 22;
export const DEPOSIT_TOKEN_V2_LEN = 246;
export const REGISTER_V2_LEN = 33;
export const ACCEPT_V2_LEN = 115;
export const FILE_HEADER_LEN = 42;

/** A v2 MESSAGE or ESCROW_DEPOSIT: the 51-byte header is the AEAD's associated data. */
export interface SealedV2 {
  readonly version: 2; readonly kind: "message" | "deposit";
  readonly pairingId: Uint8Array; readonly epoch: number; readonly direction: Direction;
  readonly index: number; readonly nonce: Uint8Array; readonly raw: Uint8Array;
}

export interface RegisterV2 {
  readonly version: 2; readonly kind: "register";
  readonly pairingId: Uint8Array; readonly startEpoch: number; readonly method: number;
  readonly graceDays: number; readonly expiresAt: number; readonly raw: Uint8Array;
}

export interface AcceptV2 {
  readonly version: 2; readonly kind: "accept";
  readonly pairingId: Uint8Array; readonly body: Uint8Array; readonly raw: Uint8Array;
}

export interface Part {
  readonly version: 2 | 3; readonly kind: "part";
  readonly groupId: Uint8Array; readonly index: number; readonly count: number;
  readonly chunk: Uint8Array; readonly raw: Uint8Array;
}

export interface MessageV3 {
  readonly version: 3; readonly kind: "message"; readonly message: MessageTokenV3;
  readonly raw: Uint8Array;
}

export interface PairingTokenV3 {
  readonly version: 3; readonly kind: "pairing"; readonly pairing: PairingV3;
  readonly raw: Uint8Array;
}

export interface UpgradeToken {
  readonly version: 3; readonly kind: "upgrade"; readonly upgrade: Upgrade;
  readonly raw: Uint8Array;
}

export interface RecordTokenV3 {
  readonly version: 3; readonly kind: "record"; readonly record: RecordToken;
  readonly raw: Uint8Array;
}

export type Token =
  | SealedV2 | RegisterV2 | AcceptV2 | Part | MessageV3 | PairingTokenV3 | UpgradeToken
  | RecordTokenV3;

/** Parse one token text (surrounding ASCII whitespace allowed). */
export function parseToken(text: string): Token {
  return parseRaw(decodeToken(text));
}

/** Parse a binary token. */
export function parseRaw(raw: Uint8Array): Token {
  if (raw.length < 2) {
    throw new MalformedToken("token is truncated");
  }
  if (raw.length > MAX_TOKEN_BYTES) {
    throw new MalformedToken("token is too large");
  }
  if (raw[0] === 3) {
    return parseV3(raw);
  }
  if (raw[0] !== 2) {
    throw new MalformedToken("unsupported token version");
  }
  switch (raw[1]) {
    case KIND.MESSAGE:
    case KIND.ESCROW_DEPOSIT:
      return parseSealedV2(raw);
    case KIND.PAIR_REGISTER:
      return parseRegisterV2(raw);
    case KIND.PAIR_ACCEPT:
      return parseAcceptV2(raw);
    case KIND.PART:
      return parsePart(raw, 2);
    default:
      throw new MalformedToken("unknown token kind");
  }
}

function parseV3(raw: Uint8Array): Token {
  switch (raw[1]) {
    case KIND.PART:
      return parsePart(raw, 3);
    case KIND.PAIR_REGISTER:
    case KIND.PAIR_ACCEPT:
    case KIND.KEY_CONFIRM:
      return { version: 3, kind: "pairing", pairing: parseV3Pairing(raw), raw };
    case KIND.UPGRADE:
      return { version: 3, kind: "upgrade", upgrade: parseUpgrade(raw), raw };
    case KIND.PIN_RECORD:
      return { version: 3, kind: "record", record: parseRecordToken(raw), raw };
    case KIND.MESSAGE:
      return { version: 3, kind: "message", message: parseMessage(raw), raw };
    default:
      throw new MalformedToken("unknown v3 token kind");
  }
}

function parseSealedV2(raw: Uint8Array): SealedV2 {
  if (raw.length < MESSAGE_HEADER_V2_LEN + 16) {
    throw new MalformedToken("token is truncated");
  }
  const kind = raw[1] === KIND.MESSAGE ? "message" : "deposit";
  if (kind === "deposit" && raw.length !== DEPOSIT_TOKEN_V2_LEN) {
    throw new MalformedToken("escrow deposit has the wrong length");
  }
  const r = new Reader(raw, 2);
  const pairingId = r.bytes(16);
  const epoch = r.u32();
  const direction = r.u8();
  const index = r.u32();
  const nonce = r.bytes(24);
  if (epoch >= MAX_EPOCH) {
    throw new MalformedToken("token epoch is outside the supported calendar");
  }
  if (direction !== 0 && direction !== 1) {
    throw new MalformedToken("token direction is invalid");
  }
  return { version: 2, kind, pairingId, epoch, direction, index, nonce, raw };
}

function parseRegisterV2(raw: Uint8Array): RegisterV2 {
  if (raw.length !== REGISTER_V2_LEN) {
    throw new MalformedToken("registration token has the wrong length");
  }
  const r = new Reader(raw, 2);
  const pairingId = r.bytes(16);
  const startEpoch = r.u32();
  const method = r.u8();
  const graceDays = r.u16();
  const expiresAt = r.u64();
  if (startEpoch >= MAX_EPOCH || method !== 1) {
    throw new MalformedToken("registration token has an invalid field");
  }
  return { version: 2, kind: "register", pairingId, startEpoch, method, graceDays, expiresAt, raw };
}

function parseAcceptV2(raw: Uint8Array): AcceptV2 {
  if (raw.length !== ACCEPT_V2_LEN) {
    throw new MalformedToken("accept token has the wrong length");
  }
  if (raw[18] !== 1) {
    throw new MalformedToken("accept token names an unknown pairing method");
  }
  return { version: 2, kind: "accept", pairingId: raw.slice(2, 18), body: raw.slice(18), raw };
}

function parsePart(raw: Uint8Array, version: 2 | 3): Part {
  if (raw.length <= PART_HEADER_LEN) {
    throw new MalformedToken("part token is truncated");
  }
  const r = new Reader(raw, 2);
  const groupId = r.bytes(16);
  const index = r.u16();
  const count = r.u16();
  if (count < 2 || index >= count) {
    throw new MalformedToken("part token has an invalid index or count");
  }
  return { version, kind: "part", groupId, index, count, chunk: r.rest(), raw };
}

export function encodePart(groupId: Uint8Array, index: number, count: number, chunk: Uint8Array,
  version: 2 | 3): Uint8Array {
  if (!(index >= 0 && index < count && count <= 0xffff) || count < 2 || chunk.length === 0) {
    throw new MalformedToken("part index, count or chunk out of range");
  }
  return new Writer().u8(version).u8(KIND.PART).bytes(groupId, 16, "group id").u16(index)
    .u16(count).bytes(chunk).finish();
}

// --------------------------------------------------------------------------- files

export const FILE_MAGIC_MCF2 = "MCF2";
export const FILE_MAGIC_MCF3 = "MCF3";

export interface FileHeader {
  readonly version: 2 | 3;
  readonly pairingId: Uint8Array; readonly epoch: number; readonly direction: Direction;
  readonly fileId: Uint8Array; readonly raw: Uint8Array;
}

const ascii = new TextEncoder();

export function encodeFileHeader(pairingId: Uint8Array, epoch: number, direction: Direction,
  fileId: Uint8Array, version: 2 | 3 = 3): Uint8Array {
  if (epoch >= MAX_EPOCH) {
    throw new MalformedToken("epoch out of range");
  }
  return new Writer().bytes(ascii.encode(version === 3 ? FILE_MAGIC_MCF3 : FILE_MAGIC_MCF2))
    .u8(version).bytes(pairingId, 16, "pairing id").u32(epoch).u8(direction)
    .bytes(fileId, 16, "file id").finish();
}

/** The 42-byte routing header of an encrypted file; `MCF2`/2 and `MCF3`/3 only (§3.5). */
export function parseFileHeader(data: Uint8Array): FileHeader {
  if (data.length < FILE_HEADER_LEN) {
    throw new MalformedToken("encrypted file is truncated");
  }
  const r = new Reader(data);
  const magic = String.fromCharCode(...r.bytes(4));
  const version = r.u8();
  const pairingId = r.bytes(16);
  const epoch = r.u32();
  const direction = r.u8();
  const fileId = r.bytes(16);
  if (magic !== FILE_MAGIC_MCF2 && magic !== FILE_MAGIC_MCF3) {
    throw new MalformedToken("not a MEDCRYPT encrypted file");
  }
  if ((magic === FILE_MAGIC_MCF2 && version !== 2) || (magic === FILE_MAGIC_MCF3 && version !== 3)) {
    throw new MalformedToken("unsupported encrypted file version");
  }
  if (epoch >= MAX_EPOCH || (direction !== 0 && direction !== 1)) {
    throw new MalformedToken("encrypted file header has an invalid field");
  }
  return { version: version as 2 | 3, pairingId, epoch, direction, fileId,
    raw: data.slice(0, FILE_HEADER_LEN) };
}

/** The 51-byte v2 MESSAGE / ESCROW_DEPOSIT header (§3.1): for reading vectors and tests. */
export function encodeSealedHeaderV2(kind: "message" | "deposit", pairingId: Uint8Array,
  f: { epoch: number; direction: Direction; index: number; nonce: Uint8Array }): Uint8Array {
  if (f.epoch >= MAX_EPOCH) {
    throw new MalformedToken("epoch or index out of range");
  }
  return new Writer().u8(2).u8(kind === "message" ? KIND.MESSAGE : KIND.ESCROW_DEPOSIT)
    .bytes(pairingId, 16, "pairing id").u32(f.epoch).u8(f.direction).u32(f.index)
    .bytes(f.nonce, 24, "nonce").finish();
}

/** v2 PAIR_REGISTER (§3.2). The web makes no v2 pairing; the vectors check the layout. */
export function encodeRegisterV2(pairingId: Uint8Array, startEpoch: number, graceDays: number,
  expiresAt: number): Uint8Array {
  if (startEpoch >= MAX_EPOCH) {
    throw new MalformedToken("registration field out of range");
  }
  return new Writer().u8(2).u8(KIND.PAIR_REGISTER).bytes(pairingId, 16, "pairing id")
    .u32(startEpoch).u8(1).u16(graceDays).u64(expiresAt).finish();
}
