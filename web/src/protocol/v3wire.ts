/**
 * Keyless codec of the v3 MESSAGE token (docs/PROTOCOL.md §21.1, `crypto/keyless/v3wire.py`):
 * `header (95) || u16 deposit length || deposit || AEAD body`. The header is the AEAD's
 * associated data and is signed in the envelope; the deposit is outside both so the bot
 * can strip it. Every field is range-checked before any key is touched.
 */

import { MalformedToken } from "../crypto/errors.js";
import { Reader, Writer, concat } from "./bytes.js";
import { MAX_EPOCH } from "./epochs.js";
import { MAX_TOKEN_BYTES } from "./text.js";

export const VERSION_3 = 3;
export const KIND_MESSAGE = 1;
export const HEADER_LEN = 95;
export const DEPOSIT_LEN = 234;
export const TAG_LEN = 16;
export const MAX_INDEX = 0xffffffff;

export type Direction = 0 | 1;

export interface MessageHeaderV3 {
  readonly pairingId: Uint8Array;
  readonly epoch: number;
  readonly direction: Direction;
  readonly chainId: Uint8Array;
  readonly chainEpoch: number;
  readonly index: number;
  readonly prevEpoch: number;
  readonly prevLen: number;
  readonly nonce: Uint8Array;
  /** The 95 header bytes (AEAD associated data). */
  readonly raw: Uint8Array;
}

export interface MessageTokenV3 {
  readonly header: MessageHeaderV3;
  readonly deposit: Uint8Array | null;
  /** AEAD output (ciphertext || tag). */
  readonly body: Uint8Array;
}

function checkFields(epoch: number, direction: number, chainEpoch: number, prevEpoch: number,
  prevLen: number): void {
  if (direction !== 0 && direction !== 1) {
    throw new MalformedToken("token direction is invalid");
  }
  if (epoch >= MAX_EPOCH || chainEpoch > epoch) {
    throw new MalformedToken("token epoch or chain epoch is invalid");
  }
  if (prevLen === 0 && prevEpoch !== 0) {
    throw new MalformedToken("token names a previous segment of no messages");
  }
  if (prevLen !== 0 && epoch > chainEpoch && !(chainEpoch <= prevEpoch && prevEpoch < epoch)) {
    throw new MalformedToken("token's previous segment is out of order");
  }
  if (prevEpoch > epoch) {
    throw new MalformedToken("token's previous segment is out of order");
  }
}

export interface HeaderFields {
  pairingId: Uint8Array; epoch: number; direction: Direction; chainId: Uint8Array;
  chainEpoch: number; index: number; prevEpoch: number; prevLen: number; nonce: Uint8Array;
}

/** The 95-byte header; refuses any field a parser would refuse. */
export function encodeHeader(f: HeaderFields): Uint8Array {
  const raw = new Writer().u8(VERSION_3).u8(KIND_MESSAGE).bytes(f.pairingId, 16, "pairing id")
    .u32(f.epoch).u8(f.direction).bytes(f.chainId, 32, "chain id").u32(f.chainEpoch)
    .u32(f.index).u32(f.prevEpoch).u32(f.prevLen).bytes(f.nonce, 24, "nonce").finish();
  checkFields(f.epoch, f.direction, f.chainEpoch, f.prevEpoch, f.prevLen);
  return raw;
}

export function parseHeader(raw: Uint8Array): MessageHeaderV3 {
  if (raw.length < HEADER_LEN) {
    throw new MalformedToken("token is truncated");
  }
  const r = new Reader(raw);
  const version = r.u8();
  const kind = r.u8();
  const pairingId = r.bytes(16);
  const epoch = r.u32();
  const direction = r.u8();
  const chainId = r.bytes(32);
  const chainEpoch = r.u32();
  const index = r.u32();
  const prevEpoch = r.u32();
  const prevLen = r.u32();
  const nonce = r.bytes(24);
  if (version !== VERSION_3 || kind !== KIND_MESSAGE) {
    throw new MalformedToken("not a v3 message token");
  }
  checkFields(epoch, direction, chainEpoch, prevEpoch, prevLen);
  return {
    pairingId, epoch, direction: direction as Direction, chainId, chainEpoch, index, prevEpoch,
    prevLen, nonce, raw: raw.slice(0, HEADER_LEN),
  };
}

export function encodeMessage(header: Uint8Array, deposit: Uint8Array | null,
  sealedBody: Uint8Array): Uint8Array {
  if (deposit !== null && deposit.length !== DEPOSIT_LEN) {
    throw new MalformedToken("a v3 deposit is exactly 234 bytes");
  }
  const section = deposit === null
    ? new Writer().u16(0).finish()
    : new Writer().u16(DEPOSIT_LEN).bytes(deposit).finish();
  const raw = concat(header, section, sealedBody);
  if (raw.length > MAX_TOKEN_BYTES) {
    throw new MalformedToken("token is too large");
  }
  return raw;
}

export function parseMessage(raw: Uint8Array): MessageTokenV3 {
  if (raw.length > MAX_TOKEN_BYTES) {
    throw new MalformedToken("token is too large");
  }
  const header = parseHeader(raw);
  const r = new Reader(raw, HEADER_LEN);
  const length = r.u16();
  if (length !== 0 && length !== DEPOSIT_LEN) {
    throw new MalformedToken("deposit section has an invalid length");
  }
  if (r.remaining < length + TAG_LEN) {
    throw new MalformedToken("token is truncated");
  }
  const deposit = length ? r.bytes(length) : null;
  return { header, deposit, body: r.rest() };
}

/** The same token without its deposit section (what the bot relays). */
export function withoutDeposit(token: MessageTokenV3): Uint8Array {
  return encodeMessage(token.header.raw, null, token.body);
}
