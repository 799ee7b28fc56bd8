/**
 * The signed, padded plaintext inside every MESSAGE token (docs/PROTOCOL.md §8, §21.2;
 * `crypto/endpoint/envelope.py`):
 * `version | content type | sent_at u64 ms | body_len u32 | body | signature | zeros`.
 * The signature covers the label, the token header and SHA-256 of the fields and body,
 * so a wrong signer is the opaque DecryptionFailed. One valid encoding per message:
 * the padded size must be exactly the bucket and the padding all zero.
 */

import { DecryptionFailed, LimitExceeded, MalformedToken } from "../crypto/errors.js";
import type { PeerVerifier } from "../crypto/peer-verifier.js";
import { ed25519Require, sha256 } from "../crypto/primitives.js";
import { Reader, Writer, concat, label as asciiLabel } from "./bytes.js";

export const ENVELOPE_VERSION = 1;
export const LABEL_V2 = asciiLabel("MEDCRYPT v2 envelope");
export const LABEL_V3 = asciiLabel("MEDCRYPT v3 envelope");
export const MAX_BODY = 1024 * 1024;
export const OVERHEAD = 14 + 64;
export const MAX_SENT_AT_MS = 253_402_300_799_999;

export const ContentType = { TEXT: 1, ATTACHMENT_MANIFEST: 2, CONTROL: 3 } as const;
export type ContentType = (typeof ContentType)[keyof typeof ContentType];

export interface Envelope {
  readonly contentType: ContentType;
  readonly body: Uint8Array;
  /** Unix milliseconds from the sender's clock. */
  readonly sentAtMs: number;
}

/** Padmé (Nikitin et al., PETS 2019). */
export function padme(length: number): number {
  const exponent = Math.floor(Math.log2(length));
  const mantissaBits = Math.floor(Math.log2(exponent)) + 1;
  const lowBits = exponent - mantissaBits;
  const mask = 2 ** lowBits - 1;
  // Lengths stay below 2^31 here, but use arithmetic (not 32-bit ops) to be safe.
  return Math.floor((length + mask) / (mask + 1)) * (mask + 1);
}

export function bucketSize(length: number): number {
  if (length <= 4096) {
    return Math.max(256, Math.ceil(length / 256) * 256);
  }
  return padme(length);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** §8's body rules: TEXT strict UTF-8; CONTROL strict UTF-8 JSON object; manifests elsewhere. */
export function checkBody(contentType: number, body: Uint8Array): void {
  if (contentType === ContentType.ATTACHMENT_MANIFEST) {
    return;
  }
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    throw new MalformedToken("message text is not valid UTF-8");
  }
  if (contentType === ContentType.CONTROL) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new MalformedToken("control message is not JSON");
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new MalformedToken("control message is not a JSON object");
    }
  }
}

function signedMessage(label: Uint8Array, header: Uint8Array, fixed: Uint8Array,
  body: Uint8Array): Uint8Array {
  return concat(label, header, sha256(concat(fixed, body)));
}

/** The padded, signed envelope that the AEAD will encrypt. */
export function seal(header: Uint8Array, contentType: ContentType, body: Uint8Array,
  sentAtMs: number, sign: (message: Uint8Array) => Uint8Array, label: Uint8Array): Uint8Array {
  if (body.length > MAX_BODY) {
    throw new LimitExceeded(`message body of ${body.length} bytes exceeds ${MAX_BODY}`);
  }
  checkBody(contentType, body);
  if (!Number.isSafeInteger(sentAtMs) || sentAtMs < 0 || sentAtMs > MAX_SENT_AT_MS) {
    throw new MalformedToken("envelope time is outside the supported calendar");
  }
  const fixed = new Writer().u8(ENVELOPE_VERSION).u8(contentType).u64(sentAtMs)
    .u32(body.length).finish();
  const signature = sign(signedMessage(label, header, fixed, body));
  const unpadded = fixed.length + body.length + signature.length;
  return concat(fixed, body, signature, new Uint8Array(bucketSize(unpadded) - unpadded));
}

/** An envelope whose lengths and padding are checked and whose signature is not yet. */
interface Unverified {
  readonly inner: Uint8Array;
  readonly contentType: number;
  readonly high: number;
  readonly low: number;
  readonly body: Uint8Array;
  readonly signed: Uint8Array;
  readonly signature: Uint8Array;
}

/** Every check that comes before the signature, in the order the Python companion makes them. */
function unverified(header: Uint8Array, inner: Uint8Array, label: Uint8Array): Unverified {
  if (inner.length < OVERHEAD) {
    throw new MalformedToken("envelope is truncated");
  }
  const r = new Reader(inner);
  const version = r.u8();
  const contentType = r.u8();
  const high = r.u32();
  const low = r.u32();
  const bodyLen = r.u32();
  const end = 14 + bodyLen;
  if (version !== ENVELOPE_VERSION || end + 64 > inner.length) {
    throw new MalformedToken("envelope header is invalid");
  }
  if (bodyLen > MAX_BODY) {
    throw new MalformedToken("envelope body is longer than the protocol allows");
  }
  const unpadded = end + 64;
  if (inner.length !== bucketSize(unpadded)) {
    throw new MalformedToken("envelope padding is invalid");
  }
  for (let i = unpadded; i < inner.length; i += 1) {
    if (inner[i] !== 0) {
      throw new MalformedToken("envelope padding is invalid");
    }
  }
  const body = inner.subarray(14, end);
  return { inner, contentType, high, low, body,
    signed: signedMessage(label, header, inner.subarray(0, 14), body),
    signature: inner.subarray(end, unpadded) };
}

/** The checks after a valid signature, and the envelope. */
function accepted(u: Unverified): Envelope {
  const ctype = u.contentType;
  if (ctype !== 1 && ctype !== 2 && ctype !== 3) {
    throw new MalformedToken("envelope field is out of range");
  }
  // u64 as two u32 halves: anything above MAX_SENT_AT_MS (< 2^48) is refused.
  const stamp = u.high * 2 ** 32 + u.low;
  if (u.high >= 2 ** 21 || stamp > MAX_SENT_AT_MS) {
    throw new MalformedToken("envelope time is outside the supported calendar");
  }
  checkBody(ctype, u.body);
  return { contentType: ctype as ContentType, body: u.body.slice(), sentAtMs: stamp };
}

/** Parse and verify an envelope; a wrong signer is DecryptionFailed. */
export function open(header: Uint8Array, inner: Uint8Array, signerPublic: Uint8Array,
  label: Uint8Array): Envelope {
  const u = unverified(header, inner, label);
  ed25519Require(signerPublic, u.signed, u.signature);
  return accepted(u);
}

/**
 * {@link open} with the signature checked by a pinned key's {@link PeerVerifier}
 * (WebCrypto where proven strict, ADR 0044): same checks, same order, same errors.
 */
export async function openWith(header: Uint8Array, inner: Uint8Array, signer: PeerVerifier,
  label: Uint8Array): Promise<Envelope> {
  const u = unverified(header, inner, label);
  if (!await signer.verify(u.signed, u.signature)) {
    throw new DecryptionFailed();
  }
  return accepted(u);
}
