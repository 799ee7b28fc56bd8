/**
 * The v3 pairing offer, QR format 2 (docs/PROTOCOL.md §4 layout, §30;
 * `crypto/endpoint/v3/offer.py` and `pairing.py`'s shared reader):
 * `medcrypt-pair:2:<b64url>` - a custom scheme so a phone scanner does not open it.
 */

import { MalformedToken } from "../crypto/errors.js";
import {
  constantTimeEqual, fromBase64, hkdfSha256, sha256, toBase64,
} from "../crypto/primitives.js";
import { Reader, Writer, concat, label } from "./bytes.js";
import { MAX_EPOCH, MAX_GRACE_DAYS } from "./epochs.js";
import { admissionHash, encodeRegisterV3 } from "./pairingWire.js";
import { encodeToken } from "./text.js";

export const QR_SCHEME = "medcrypt-pair:";
export const QR_VERSION = 2;
export const MAX_CONTACT_BYTES = 64;
export const MAX_OFFER_TEXT = 1000;
const LABEL_ADMISSION = label("MEDCRYPT v3 admission value");
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export interface OfferV3 {
  readonly pairingId: Uint8Array;
  readonly offerSecret: Uint8Array;
  readonly ephemeralPublic: Uint8Array;
  readonly identityPublic: Uint8Array;
  readonly startEpoch: number;
  readonly graceDays: number;
  /** Unix seconds. */
  readonly expiresAt: number;
  readonly escrowPublic: Uint8Array | null;
  readonly botContact: string;
}

function tail(o: OfferV3): Uint8Array {
  const contact = utf8.encode(o.botContact);
  const escrow = o.escrowPublic ?? new Uint8Array(0);
  return new Writer().u8(escrow.length).bytes(escrow).u8(contact.length).bytes(contact).finish();
}

/** QR format 1 is v2's offer (§4), format 2 v3's (§30): one layout, one reader. */
export type QrVersion = 1 | 2;

/** The offer without its secret and checksum: what the transcript covers. */
export function publicBytes(o: OfferV3, version: QrVersion = QR_VERSION): Uint8Array {
  return concat(new Writer().u8(version).u8(1).bytes(o.pairingId, 16)
    .bytes(o.ephemeralPublic, 32).bytes(o.identityPublic, 32).u32(o.startEpoch)
    .u16(o.graceDays).u64(o.expiresAt).finish(), tail(o));
}

export function offerBytes(o: OfferV3, version: QrVersion = QR_VERSION): Uint8Array {
  const body = concat(new Writer().u8(version).u8(1).bytes(o.pairingId, 16)
    .bytes(o.offerSecret, 32).bytes(o.ephemeralPublic, 32).bytes(o.identityPublic, 32)
    .u32(o.startEpoch).u16(o.graceDays).u64(o.expiresAt).finish(), tail(o));
  return concat(body, sha256(body).subarray(0, 4));
}

export function offerText(o: OfferV3, version: QrVersion = QR_VERSION): string {
  return `${QR_SCHEME}${version}:${toBase64(offerBytes(o, version), "url-nopad")}`;
}

/** `A`: proves the sender saw the QR, reveals nothing about the offer secret. */
export function admissionValue(offerSecret: Uint8Array, pairingId: Uint8Array): Uint8Array {
  return hkdfSha256(offerSecret, pairingId, LABEL_ADMISSION);
}

/** PAIR_REGISTER v3 text: pairing id, policy, `H_A`; nothing secret. */
export function registrationToken(o: OfferV3): string {
  return encodeToken(encodeRegisterV3(o.pairingId, o.startEpoch, o.graceDays, o.expiresAt,
    admissionHash(o.pairingId, admissionValue(o.offerSecret, o.pairingId))));
}

export function expired(o: OfferV3, now: Date): boolean {
  return now.getTime() / 1000 >= o.expiresAt;
}

/** The whitespace PROTOCOL §4 lets a reader strip around an offer text (Python's `str.strip()`). */
const OFFER_SPACE = /^[\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

/**
 * Strictly parse `medcrypt-pair:2:...` (scheme case-insensitive, at most 1000
 * characters, canonical unpadded base64url), ignoring §4's whitespace around it.
 */
export function parseOfferText(text: string, version: QrVersion = QR_VERSION): OfferV3 {
  if (typeof text !== "string") {
    throw new MalformedToken("offer must be text");
  }
  const body = text.replace(OFFER_SPACE, "");
  const prefix = `${QR_SCHEME}${version}:`;
  if (body.length > MAX_OFFER_TEXT || body.slice(0, prefix.length).toLowerCase() !== prefix) {
    throw new MalformedToken(`not a MedCrypt pairing offer of format ${version} (expected ${prefix}...)`);
  }
  const payload = body.slice(prefix.length);
  if (payload.length % 4 === 1 || payload.includes("=")) {
    throw new MalformedToken("pairing offer text is damaged");
  }
  let raw: Uint8Array;
  try {
    raw = fromBase64(payload, "url-nopad");
  } catch {
    throw new MalformedToken("pairing offer text is damaged");
  }
  return parseOfferBytes(raw, version);
}

/** The binary offer (with checksum), checked as §4 says. */
export function parseOfferBytes(raw: Uint8Array, version: QrVersion = QR_VERSION): OfferV3 {
  const fixed = 2 + 16 + 32 + 32 + 32 + 4 + 2 + 8;
  if (raw.length < fixed + 2 + 4) {
    throw new MalformedToken("pairing offer is truncated");
  }
  const body = raw.subarray(0, raw.length - 4);
  if (!constantTimeEqual(sha256(body).subarray(0, 4), raw.subarray(raw.length - 4))) {
    throw new MalformedToken("pairing offer text is damaged (checksum)");
  }
  const r = new Reader(body);
  const got = r.u8();
  const method = r.u8();
  const pairingId = r.bytes(16);
  const offerSecret = r.bytes(32);
  const ephemeralPublic = r.bytes(32);
  const identityPublic = r.bytes(32);
  const startEpoch = r.u32();
  const graceDays = r.u16();
  const expiresAt = r.u64();
  if (got !== version || method !== 1) {
    throw new MalformedToken("unsupported pairing offer version");
  }
  const escrowLen = r.u8();
  if ((escrowLen !== 0 && escrowLen !== 32) || r.remaining < escrowLen + 1) {
    throw new MalformedToken("pairing offer has an invalid escrow key");
  }
  const escrow = r.bytes(escrowLen);
  const contactLen = r.u8();
  if (contactLen !== r.remaining || contactLen > MAX_CONTACT_BYTES) {
    throw new MalformedToken("pairing offer has an invalid bot contact");
  }
  let botContact: string;
  try {
    botContact = strictUtf8.decode(r.rest());
  } catch {
    throw new MalformedToken("pairing offer has an invalid bot contact");
  }
  if (startEpoch >= MAX_EPOCH || graceDays > MAX_GRACE_DAYS) {
    throw new MalformedToken("pairing offer has an invalid rotation policy");
  }
  return { pairingId, offerSecret, ephemeralPublic, identityPublic, startEpoch, graceDays,
    expiresAt, escrowPublic: escrowLen ? escrow : null, botContact };
}
