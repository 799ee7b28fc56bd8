/**
 * v2 pairing (docs/PROTOCOL.md §4-§5, §10; `crypto/endpoint/pairing.py`, `safety.py`).
 * The web companion never makes a v2 pairing - new pairings are v3 - but it reads v2
 * tokens, and the v2 vectors replay through this module so that "every protocol vector
 * passes in the browser" holds for v2 too.
 */

import {
  DecryptionFailed, MalformedToken, OfferExpired, OfferReused, WrongPairing,
} from "../crypto/errors.js";
import {
  type Rng, constantTimeEqual, hkdfSha256, hmacSha256, osRng, sha256, sha512, toHex, wipe,
  x25519Public, x25519Shared,
} from "../crypto/primitives.js";
import { Writer, concat, label } from "./bytes.js";
import { DEFAULT_GRACE_DAYS, MAX_GRACE_DAYS, epochOf } from "./epochs.js";
import { MAX_CONTACT_BYTES, type OfferV3, expired, parseOfferText, publicBytes } from "./offer.js";
import { encodeToken } from "./text.js";
import { startKey } from "./v2keys.js";
import type { Role } from "./v3state.js";
import { encodeRegisterV2, parseToken } from "./wire.js";

const LABEL_TRANSCRIPT = label("MEDCRYPT v2 pairing transcript");
const LABEL_ROOT = label("MEDCRYPT v2 root");
const LABEL_MAC_KEY = label("MEDCRYPT v2 accept mac key");
const LABEL_MAC = label("MEDCRYPT v2 accept");
const LABEL_SAFETY = label("MEDCRYPT v2 safety number");
const LABEL_FINGERPRINT = label("MEDCRYPT v2 fingerprint");

/** What any v2 pairing method yields (§5): everything a v2 session starts from. */
export interface PairingOutcomeV2 {
  role: Role;
  pairingId: Uint8Array;
  startEpoch: number;
  graceDays: number;
  ownIdentity: Uint8Array;
  peerIdentity: Uint8Array;
  escrowPublic: Uint8Array | null;
  botContact: string;
  transcriptHash: Uint8Array;
  startKey: Uint8Array;
}

function transcript(offer: OfferV3, eph: Uint8Array, identity: Uint8Array): Uint8Array {
  return sha256(concat(LABEL_TRANSCRIPT, publicBytes(offer, 1), eph, identity));
}

function mac(secret: Uint8Array, pairingId: Uint8Array, t: Uint8Array): Uint8Array {
  const key = hkdfSha256(secret, pairingId, LABEL_MAC_KEY);
  try {
    return hmacSha256(key, concat(LABEL_MAC, t));
  } finally {
    wipe(key);
  }
}

function firstKey(shared: Uint8Array, secret: Uint8Array, offer: OfferV3, t: Uint8Array): Uint8Array {
  const root = hkdfSha256(concat(shared, secret), offer.pairingId, concat(LABEL_ROOT, t));
  try {
    return startKey(root, offer.startEpoch);
  } finally {
    wipe(root);
  }
}

/** The physician's single-use v2 offer (§4): draws pairing id, offer secret, `E_d`. */
export interface PendingOfferV2 {
  offer: OfferV3;
  ephemeralPrivate: Uint8Array;
  used: boolean;
}

export function createOfferV2(identityPublic: Uint8Array, opts: { now: Date; rng?: Rng;
  graceDays?: number; escrowPublic?: Uint8Array | null; botContact?: string }): PendingOfferV2 {
  const graceDays = opts.graceDays ?? DEFAULT_GRACE_DAYS;
  if (identityPublic.length !== 32 || (opts.escrowPublic != null && opts.escrowPublic.length !== 32)) {
    throw new MalformedToken("identity and escrow public keys must be 32 bytes");
  }
  if (!Number.isInteger(graceDays) || graceDays < 0 || graceDays > MAX_GRACE_DAYS) {
    throw new MalformedToken(`grace window must be 0..${MAX_GRACE_DAYS} days`);
  }
  if (new TextEncoder().encode(opts.botContact ?? "").length > MAX_CONTACT_BYTES) {
    throw new MalformedToken(`bot contact must be at most ${MAX_CONTACT_BYTES} bytes`);
  }
  const rng = opts.rng ?? osRng;
  const pairingId = rng(16);
  const secret = rng(32);
  const ephPrivate = rng(32);
  const offer: OfferV3 = {
    pairingId, offerSecret: secret, ephemeralPublic: x25519Public(ephPrivate), identityPublic,
    startEpoch: epochOf(opts.now), graceDays,
    expiresAt: Math.floor((opts.now.getTime() + 600_000) / 1000),
    escrowPublic: opts.escrowPublic ?? null, botContact: opts.botContact ?? "",
  };
  return { offer, ephemeralPrivate: ephPrivate, used: false };
}

/** PAIR_REGISTER v2 text for the bot (public policy only). */
export function registrationTokenV2(offer: OfferV3): string {
  return encodeToken(encodeRegisterV2(offer.pairingId, offer.startEpoch, offer.graceDays,
    offer.expiresAt));
}

/** Patient: the PAIR_ACCEPT v2 token and the outcome (§5). Draws `E_p` (32). */
export function acceptOfferV2(qrText: string, identityPublic: Uint8Array,
  opts: { now: Date; rng?: Rng }): { acceptToken: string; outcome: PairingOutcomeV2 } {
  const offer = parseOfferText(qrText, 1);
  if (expired(offer, opts.now)) {
    throw new OfferExpired("this pairing offer has expired; ask for a new QR code");
  }
  if (constantTimeEqual(identityPublic, offer.identityPublic)) {
    throw new WrongPairing("a companion cannot pair with itself");
  }
  const ephPrivate = (opts.rng ?? osRng)(32);
  try {
    const ephPublic = x25519Public(ephPrivate);
    const shared = x25519Shared(ephPrivate, offer.ephemeralPublic);
    const t = transcript(offer, ephPublic, identityPublic);
    const body = concat(new Uint8Array([1]), ephPublic, identityPublic, mac(offer.offerSecret, offer.pairingId, t));
    const token = new Writer().u8(2).u8(3).bytes(offer.pairingId, 16).bytes(body).finish();
    const outcome: PairingOutcomeV2 = {
      role: "patient", pairingId: offer.pairingId, startEpoch: offer.startEpoch,
      graceDays: offer.graceDays, ownIdentity: identityPublic, peerIdentity: offer.identityPublic,
      escrowPublic: offer.escrowPublic, botContact: offer.botContact, transcriptHash: t,
      startKey: firstKey(shared, offer.offerSecret, offer, t),
    };
    wipe(shared);
    return { acceptToken: encodeToken(token), outcome };
  } finally {
    wipe(ephPrivate);
  }
}

/** Physician: verify the accept once (§5's order) and derive the same first key. */
export function completeOfferV2(pending: PendingOfferV2, acceptToken: string,
  opts: { now: Date }): PairingOutcomeV2 {
  const token = parseToken(acceptToken);
  if (token.kind !== "accept") {
    throw new MalformedToken("expected a pairing accept token");
  }
  const offer = pending.offer;
  if (!constantTimeEqual(token.pairingId, offer.pairingId)) {
    throw new WrongPairing("accept token is for another pairing offer");
  }
  if (pending.used) {
    throw new OfferReused("this pairing offer was already used");
  }
  if (expired(offer, opts.now)) {
    throw new OfferExpired("this pairing offer has expired; create a new one");
  }
  const eph = token.body.subarray(1, 33);
  const identity = token.body.slice(33, 65);
  const got = token.body.subarray(65, 97);
  if (constantTimeEqual(identity, offer.identityPublic)) {
    throw new WrongPairing("a companion cannot pair with itself");
  }
  const shared = x25519Shared(pending.ephemeralPrivate, eph);
  const t = transcript(offer, eph, identity);
  if (!constantTimeEqual(mac(offer.offerSecret, offer.pairingId, t), got)) {
    throw new DecryptionFailed();
  }
  const key = firstKey(shared, offer.offerSecret, offer, t);
  wipe(shared);
  pending.used = true;
  wipe(pending.ephemeralPrivate);
  wipe(offer.offerSecret);
  return { role: "physician", pairingId: offer.pairingId, startEpoch: offer.startEpoch,
    graceDays: offer.graceDays, ownIdentity: offer.identityPublic, peerIdentity: identity,
    escrowPublic: offer.escrowPublic, botContact: offer.botContact, transcriptHash: t,
    startKey: key };
}

function half(identity: Uint8Array): string {
  let digest = sha512(concat(LABEL_SAFETY, identity));
  for (let i = 0; i < 5199; i += 1) {
    digest = sha512(concat(digest, identity));
  }
  let out = "";
  for (let i = 0; i < 30; i += 5) {
    let v = 0;
    for (let j = 0; j < 5; j += 1) {
      v = v * 256 + (digest[i + j] ?? 0);
    }
    out += String(v % 100000).padStart(5, "0");
  }
  return out;
}

/** §10: 60 digits in 12 groups of 5, symmetric in its arguments. */
export function safetyNumber(a: Uint8Array, b: Uint8Array): string {
  const first = toHex(a) <= toHex(b) ? a : b;
  const second = first === a ? b : a;
  const digits = half(first) + half(second);
  return digits.match(/.{5}/g)?.join(" ") ?? "";
}

export function fingerprintV2(identity: Uint8Array): string {
  return toHex(sha256(concat(LABEL_FINGERPRINT, identity)));
}
