/**
 * Token text (docs/PROTOCOL.md §3, §21): `[MEDCRYPT:v2:<b64>]` / `[MEDCRYPT:v3:<b64>]`.
 *
 * Strict on purpose, as `crypto/keyless/wire.py`: canonical base64 without padding (the
 * decoder is libsodium's, which refuses `=`, other characters, an impossible length and
 * non-zero trailing bits), only ASCII whitespace around the token (not JavaScript's
 * `trim()`, whose Unicode set differs from Python's), at most 2 MiB of binary token, and
 * byte 0 equal to the version in the prefix. Everything else is {@link MalformedToken}.
 */

import { MalformedToken } from "../crypto/errors.js";
import { fromBase64, toBase64 } from "../crypto/primitives.js";

export const PREFIX_V2 = "[MEDCRYPT:v2:";
export const PREFIX_V3 = "[MEDCRYPT:v3:";
export const SUFFIX = "]";
export const WRAPPER_CHARS = PREFIX_V2.length + SUFFIX.length;
export const MAX_TOKEN_BYTES = 2 * 1024 * 1024;
export const MAX_TOKEN_CHARS = WRAPPER_CHARS + Math.floor((MAX_TOKEN_BYTES * 4 + 2) / 3);
/** Finds tokens inside chat text; group 1 is the payload. */
export const TOKEN_RE = /\[MEDCRYPT:v[23]:([A-Za-z0-9+/]+)\]/g;

const ASCII_WHITESPACE = new Set([" ", "\t", "\n", "\v", "\f", "\r"]);

/** Strip U+0009..U+000D and U+0020 only (PROTOCOL §3), never Unicode spaces. */
export function stripAscii(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && ASCII_WHITESPACE.has(text.charAt(start))) {
    start += 1;
  }
  while (end > start && ASCII_WHITESPACE.has(text.charAt(end - 1))) {
    end -= 1;
  }
  return text.slice(start, end);
}

/** Strict canonical unpadded base64 (§1) -> bytes. */
export function decodePayload(payload: string): Uint8Array {
  if (payload.length === 0 || payload.length % 4 === 1 || payload.includes("=")) {
    throw new MalformedToken("token payload has an impossible length or padding");
  }
  return fromBase64(payload, "standard-nopad");
}

/** Wrap a binary token: the prefix follows byte 0 (3 -> v3, anything else -> v2). */
export function encodeToken(raw: Uint8Array): string {
  if (raw.length === 0 || raw.length > MAX_TOKEN_BYTES) {
    throw new MalformedToken("token is empty or too large");
  }
  const prefix = raw[0] === 3 ? PREFIX_V3 : PREFIX_V2;
  return prefix + toBase64(raw, "standard-nopad") + SUFFIX;
}

/** The binary form of one token text (surrounding ASCII whitespace allowed). */
export function decodeToken(text: string): Uint8Array {
  if (typeof text !== "string") {
    throw new MalformedToken("token must be text");
  }
  const body = stripAscii(text);
  if (body.length > MAX_TOKEN_CHARS) {
    throw new MalformedToken("token text is too long");
  }
  const version = body.startsWith(PREFIX_V3) ? 3 : 2;
  const prefix = version === 3 ? PREFIX_V3 : PREFIX_V2;
  if (!body.startsWith(prefix) || !body.endsWith(SUFFIX) || body.length < prefix.length + 1) {
    throw new MalformedToken("not a MEDCRYPT v2 or v3 token");
  }
  const raw = decodePayload(body.slice(prefix.length, body.length - SUFFIX.length));
  if (raw[0] !== version) {
    throw new MalformedToken("token text and binary version differ");
  }
  return raw;
}

/** Every complete token text inside `text`, in order of appearance. */
export function findTokens(text: string): string[] {
  return Array.from(text.matchAll(TOKEN_RE), (m) => m[0]);
}
