/**
 * Splitting a token to fit a platform's character limit and joining it back
 * (docs/PROTOCOL.md §3.4, `crypto/keyless/parts.py`). Keyless: a forged part only makes
 * the joined token fail authentication. Limits hold before memory is committed.
 */

import { LimitExceeded, MalformedToken } from "../crypto/errors.js";
import { type Rng, osRng, toHex } from "../crypto/primitives.js";
import { concat } from "./bytes.js";
import { MAX_TOKEN_BYTES, WRAPPER_CHARS, encodeToken } from "./text.js";
import { PART_HEADER_LEN, encodePart, parseRaw, parseToken } from "./wire.js";

export const MAX_PARTS = 2048;
export const MAX_PENDING_GROUPS = 64;
export const MIN_MAX_CHARS = WRAPPER_CHARS + 4 * Math.floor((PART_HEADER_LEN + 1 + 2) / 3);
/** WhatsApp through Twilio, and Telegram. */
export const LIMIT_WHATSAPP = 1600;
export const LIMIT_TELEGRAM = 4096;

function capacity(maxChars: number): number {
  return Math.floor(((maxChars - WRAPPER_CHARS) * 3) / 4) - PART_HEADER_LEN;
}

/** `[text]` if it fits in `maxChars`, else PART tokens that each fit (§3.4's sizes). */
export function splitToken(tokenText: string, maxChars: number, rng: Rng = osRng): string[] {
  const token = parseToken(tokenText);
  if (token.kind === "part") {
    throw new MalformedToken("a part cannot be split again; join the parts first");
  }
  const canonical = encodeToken(token.raw);
  if (canonical.length <= maxChars) {
    return [canonical];
  }
  if (maxChars < MIN_MAX_CHARS) {
    throw new LimitExceeded(`a character limit of ${maxChars} is too small for a part`);
  }
  const cap = capacity(maxChars);
  const count = Math.ceil(token.raw.length / cap);
  if (count > MAX_PARTS) {
    throw new LimitExceeded(`token would need ${count} parts (limit ${MAX_PARTS})`);
  }
  const groupId = rng(16);
  const version = token.version;
  const out: string[] = [];
  for (let i = 0; i < count; i += 1) {
    out.push(encodeToken(encodePart(groupId, i, count,
      token.raw.subarray(i * cap, (i + 1) * cap), version)));
  }
  return out;
}

interface Group {
  count: number;
  chunks: Map<number, Uint8Array>;
  size: number;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Collects PART tokens of many tokens and yields each once complete, in any order; an
 * identical duplicate is ignored, a contradicting part is MalformedToken. A whole token
 * passed in is returned (canonical text) as is.
 */
export class PartAssembler {
  readonly #groups = new Map<string, Group>();
  readonly #maxPending: number;

  constructor(maxPending = MAX_PENDING_GROUPS) {
    this.#maxPending = maxPending;
  }

  get pending(): number {
    return this.#groups.size;
  }

  add(partText: string): string | null {
    const token = parseToken(partText);
    if (token.kind !== "part") {
      return encodeToken(token.raw);
    }
    if (token.count > MAX_PARTS) {
      throw new LimitExceeded(`token announces ${token.count} parts (limit ${MAX_PARTS})`);
    }
    const key = toHex(token.groupId);
    let group = this.#groups.get(key);
    if (group === undefined) {
      if (this.#groups.size >= this.#maxPending) {
        throw new LimitExceeded("too many partly received tokens");
      }
      group = { count: token.count, chunks: new Map(), size: 0 };
      this.#groups.set(key, group);
    }
    if (group.count !== token.count) {
      throw new MalformedToken("parts of one token disagree on the part count");
    }
    const known = group.chunks.get(token.index);
    if (known !== undefined) {
      if (!sameBytes(known, token.chunk)) {
        throw new MalformedToken("two different parts claim the same position");
      }
      return null;
    }
    if (group.size + token.chunk.length > MAX_TOKEN_BYTES) {
      this.#groups.delete(key);
      throw new LimitExceeded("joined token would be too large");
    }
    group.chunks.set(token.index, token.chunk);
    group.size += token.chunk.length;
    if (group.chunks.size < group.count) {
      return null;
    }
    this.#groups.delete(key);
    const ordered: Uint8Array[] = [];
    for (let i = 0; i < group.count; i += 1) {
      ordered.push(group.chunks.get(i) as Uint8Array);
    }
    return joinChunks(ordered);
  }
}

/** The token text of the chunks of one token, in index order (same checks as above). */
export function joinChunks(chunks: Uint8Array[]): string {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  if (total > MAX_TOKEN_BYTES) {
    throw new LimitExceeded("joined token would be too large");
  }
  const raw = concat(...chunks);
  if (parseRaw(raw).kind === "part") {
    throw new MalformedToken("a joined token cannot itself be a part");
  }
  return encodeToken(raw);
}

/** Join the parts of exactly one token (any order, duplicates allowed). */
export function joinParts(texts: string[]): string {
  const tokens = texts.map((t) => parseToken(t));
  const groups = new Set(tokens.map((t) => toHex(t.kind === "part" ? t.groupId : t.raw)));
  if (groups.size !== 1) {
    throw new MalformedToken("the texts are not the parts of exactly one token");
  }
  const assembler = new PartAssembler(1);
  let result: string | null = null;
  for (const token of tokens) {
    if (result === null) {
      result = assembler.add(encodeToken(token.raw));
    }
  }
  if (result === null) {
    throw new MalformedToken("not all parts of the token were given");
  }
  return result;
}
