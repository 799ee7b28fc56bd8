/**
 * Key-confirmed v3 pairing by QR code, both roles (docs/PROTOCOL.md §30-§33;
 * `crypto/endpoint/v3/pairing.py` and `physician.py`).
 *
 * The web companion only ever makes v3 pairings. Every step is a pure function over a
 * JSON state document (the same `medcrypt-v3-pairing-*` formats the CLI keeps): it
 * returns the new document and its output and never mutates the caller's, so the app
 * commits the state before it shows a code or hands a token to the share sheet.
 *
 * Draws (vectors): physician - pairing id (16), offer secret (32), `E_d` private (32);
 * patient - `E_p` private (32).
 */

import {
  DecryptionFailed, MalformedToken, OfferExpired, OfferReused, PairingCancelled,
  PairingNotVerified, PeerKeyChanged, QrShared,
  StorageError, WrongPairing,
} from "../crypto/errors.js";
import {
  type Rng, constantTimeEqual, ed25519KeyPair, ed25519Require, ed25519Sign, hkdfSha256,
  hmacSha256, osRng, sha256, toHex, wipe, x25519Public, x25519Shared,
} from "../crypto/primitives.js";
import { Writer, concat, label } from "./bytes.js";
import { DEFAULT_GRACE_DAYS, MAX_GRACE_DAYS, epochOf } from "./epochs.js";
import {
  type OfferV3, MAX_CONTACT_BYTES, admissionValue, expired, offerBytes, parseOfferBytes,
  parseOfferText, publicBytes,
} from "./offer.js";
import {
  type AcceptV3, type KeyConfirm, acceptHash, acceptPrefix, confirmPrefix,
} from "./pairingWire.js";
import { encodeToken } from "./text.js";
import { type PairingSecrets, isoUtc } from "./v3session.js";
import { b64d, b64e, field, obj } from "./v3state.js";
import { parseToken } from "./wire.js";

const LABEL_TRANSCRIPT = label("MEDCRYPT v3 pairing transcript");
const LABEL_ROOT = label("MEDCRYPT v3 root");
const LABEL_ACCEPT_SIGNATURE = label("MEDCRYPT v3 accept signature");
const LABEL_CODE = label("MEDCRYPT v3 verification code");
const LABEL_CONFIRM_KEY = label("MEDCRYPT v3 key confirm key");
const LABEL_CONFIRM_MAC = label("MEDCRYPT v3 key confirm");
const LABEL_CONFIRM_SIGNATURE = label("MEDCRYPT v3 key confirm signature");
export const PATIENT_STATE_FORMAT = "medcrypt-v3-pairing-patient/1";
export const PHYSICIAN_STATE_FORMAT = "medcrypt-v3-pairing-physician/1";
export const OFFER_TTL_MS = 10 * 60 * 1000;

// --------------------------------------------------------------------------- derivations

/** `T` (§32). */
export function transcriptHash(offer: OfferV3, patientEphemeral: Uint8Array,
  patientIdentity: Uint8Array): Uint8Array {
  const pub = publicBytes(offer);
  return sha256(concat(LABEL_TRANSCRIPT, new Uint8Array([3, 1]), offer.pairingId,
    new Writer().u16(pub.length).finish(), pub, patientEphemeral, patientIdentity));
}

export function rootKey(shared: Uint8Array, offerSecret: Uint8Array, pairingId: Uint8Array,
  transcript: Uint8Array): Uint8Array {
  return hkdfSha256(concat(shared, offerSecret), pairingId, concat(LABEL_ROOT, transcript));
}

/** Six digits shown as `123 456` (u64 mod 10^6). */
export function verificationCode(root: Uint8Array, transcript: Uint8Array): string {
  const raw = hkdfSha256(root, null, concat(LABEL_CODE, transcript), 8);
  const value = new DataView(raw.buffer, raw.byteOffset, 8).getBigUint64(0, false);
  const digits = (value % 1_000_000n).toString().padStart(6, "0");
  return `${digits.slice(0, 3)} ${digits.slice(3)}`;
}

export function confirmMac(root: Uint8Array, transcript: Uint8Array, aHash: Uint8Array): Uint8Array {
  const key = hkdfSha256(root, null, LABEL_CONFIRM_KEY);
  try {
    return hmacSha256(key, concat(LABEL_CONFIRM_MAC, transcript, aHash));
  } finally {
    wipe(key);
  }
}

function parseAccept(tokenText: string): AcceptV3 {
  const token = parseToken(tokenText);
  if (token.kind !== "pairing" || token.pairing.kind !== "accept") {
    throw new MalformedToken("unexpected token kind for this pairing step");
  }
  return token.pairing;
}

function parseConfirm(tokenText: string): KeyConfirm {
  const token = parseToken(tokenText);
  if (token.kind !== "pairing" || token.pairing.kind !== "confirm") {
    throw new MalformedToken("unexpected token kind for this pairing step");
  }
  return token.pairing;
}

function publicOf(identitySeed: Uint8Array): Uint8Array {
  const pair = ed25519KeyPair(identitySeed);
  wipe(pair.secretKey);
  return pair.publicKey;
}

// --------------------------------------------------------------------------- patient

export interface PatientPairingDocument {
  format: typeof PATIENT_STATE_FORMAT;
  offer: string;
  accept_token: string;
  done: boolean;
  root: string | null;
  ephemeral_private: string | null;
  [key: string]: string | boolean | null;
}

/** Patient: read the QR text, make `E_p`, sign `T`, build PAIR_ACCEPT v3 (§32). */
export function acceptOffer(qrText: string, identitySeed: Uint8Array,
  opts: { now: Date; rng?: Rng }): { state: PatientPairingDocument; acceptToken: string; code: string } {
  const offer = parseOfferText(qrText);
  if (expired(offer, opts.now)) {
    throw new OfferExpired("this pairing offer has expired; ask for a new QR code");
  }
  const identity = publicOf(identitySeed);
  if (constantTimeEqual(identity, offer.identityPublic)) {
    throw new WrongPairing("a companion cannot pair with itself");
  }
  const ephPrivate = (opts.rng ?? osRng)(32);
  const secret = offer.offerSecret.slice();
  let root: Uint8Array;
  let prefix: Uint8Array;
  let transcript: Uint8Array;
  let ephPublic: Uint8Array;
  try {
    ephPublic = x25519Public(ephPrivate);
    const shared = x25519Shared(ephPrivate, offer.ephemeralPublic);
    transcript = transcriptHash(offer, ephPublic, identity);
    root = rootKey(shared, secret, offer.pairingId, transcript);
    wipe(shared);
    prefix = acceptPrefix(offer.pairingId, admissionValue(secret, offer.pairingId), ephPublic,
      identity);
  } catch (error) {
    wipe(ephPrivate);
    throw error;
  } finally {
    wipe(secret);
  }
  const raw = concat(prefix, ed25519Sign(identitySeed, concat(LABEL_ACCEPT_SIGNATURE, transcript)));
  const acceptToken = encodeToken(raw);
  const code = verificationCode(root, transcript);
  // The patient never needs the offer secret again: keep the offer without it.
  const kept: OfferV3 = { ...offer, offerSecret: new Uint8Array(32) };
  const state: PatientPairingDocument = {
    format: PATIENT_STATE_FORMAT, offer: b64e(offerBytes(kept)), accept_token: acceptToken,
    done: false, root: b64e(root), ephemeral_private: b64e(ephPrivate),
  };
  wipe(root);
  wipe(ephPrivate);
  return { state, acceptToken, code };
}

interface PatientLoaded {
  offer: OfferV3; accept: AcceptV3; done: boolean; root: Uint8Array; ephPrivate: Uint8Array;
  transcript: Uint8Array;
}

function loadPatient(state: unknown, identitySeed: Uint8Array): PatientLoaded {
  try {
    const s = obj(state);
    if (field(s, "format") !== PATIENT_STATE_FORMAT) {
      throw new StorageError("unknown patient pairing state format");
    }
    const offer = parseOfferBytes(b64d(field(s, "offer")));
    const acceptText = field(s, "accept_token");
    if (typeof acceptText !== "string") {
      throw new StorageError("patient pairing state is damaged");
    }
    const accept = parseAccept(acceptText);
    const done = field(s, "done");
    if (typeof done !== "boolean") {
      throw new StorageError("patient pairing state is damaged");
    }
    const root = done ? new Uint8Array(32) : b64d(field(s, "root"), 32);
    const ephPrivate = done ? new Uint8Array(32) : b64d(field(s, "ephemeral_private"), 32);
    if (!constantTimeEqual(accept.patientIdentity, publicOf(identitySeed))
      || (!done && !constantTimeEqual(x25519Public(ephPrivate), accept.patientEphemeral))) {
      throw new StorageError("patient pairing state belongs to another identity");
    }
    const transcript = transcriptHash(offer, accept.patientEphemeral, accept.patientIdentity);
    return { offer, accept, done, root, ephPrivate, transcript };
  } catch (error) {
    if (error instanceof StorageError) {
      throw error;
    }
    throw new StorageError("patient pairing state is damaged");
  }
}

/** The code the patient's screen shows while waiting (re-derived from the state). */
export function patientCode(state: PatientPairingDocument, identitySeed: Uint8Array): string {
  const p = loadPatient(state, identitySeed);
  return p.done ? "" : verificationCode(p.root, p.transcript);
}

/**
 * Patient, on KEY_CONFIRM (§33), in order: kind and length; pairing id; the offer's
 * `I_d` signature; this accept's hash (else QrShared); the MAC. Only then the secrets.
 */
export function verifyConfirmation(state: PatientPairingDocument, identitySeed: Uint8Array,
  tokenText: string): { state: PatientPairingDocument; secrets: PairingSecrets } {
  const p = loadPatient(state, identitySeed);
  if (p.done) {
    throw new OfferReused("this pairing was already confirmed");
  }
  const confirm = parseConfirm(tokenText);
  if (!constantTimeEqual(confirm.pairingId, p.offer.pairingId)) {
    throw new WrongPairing("key confirmation is for another pairing");
  }
  ed25519Require(p.offer.identityPublic,
    concat(LABEL_CONFIRM_SIGNATURE, confirm.raw.subarray(0, 82)), confirm.signature);
  const aHash = acceptHash(p.accept.raw);
  if (!constantTimeEqual(confirm.acceptHash, aHash)) {
    throw new QrShared("the physician confirmed another device's answer: this QR was "
      + "photographed or shared: pair again");
  }
  if (!constantTimeEqual(confirm.confirmMac, confirmMac(p.root, p.transcript, aHash))) {
    throw new DecryptionFailed();
  }
  const secrets: PairingSecrets = {
    role: "patient", pairingId: p.offer.pairingId, startEpoch: p.offer.startEpoch,
    graceDays: p.offer.graceDays, transcriptHash: p.transcript, rootKey: p.root.slice(),
    ownIdentityPrivate: identitySeed.slice(), peerIdentityPublic: p.offer.identityPublic,
    escrowPublic: p.offer.escrowPublic, patientRatchetPublic: p.accept.patientEphemeral,
    patientRatchetPrivate: p.ephPrivate.slice(), physicianRatchetPrivate: null,
    physicianRatchetPublic: p.offer.ephemeralPublic,
  };
  wipe(p.root);
  wipe(p.ephPrivate);
  const next: PatientPairingDocument = { ...state, done: true, root: null, ephemeral_private: null };
  return { state: next, secrets };
}

// --------------------------------------------------------------------------- physician

export type PhysicianStatus = "waiting" | "unverified" | "confirmed" | "cancelled" | "aborted";

export interface PhysicianPairingDocument {
  format: typeof PHYSICIAN_STATE_FORMAT;
  state: PhysicianStatus;
  pairing_id: string;
  offer: string | null;
  ephemeral_private: string | null;
  accepts: [string, string][];
  seen: string[];
  candidate: string | null;
}

export interface PhysicianScreen {
  readonly state: PhysicianStatus;
  readonly code: string | null;
  readonly accepts: readonly { arrivedAt: string; account: string }[];
  readonly banner: "VERIFIED" | "UNVERIFIED";
}

/** A platform account as the screen shows it: its last two characters only. */
export function maskAccount(account: string): string {
  const tail = account.trim().slice(-2);
  return tail ? `…${tail}` : "unknown account";
}

/** A fresh v3 offer valid for `ttlMs` from `now` (§30). */
export function createOffer(identityPublic: Uint8Array, opts: {
  now: Date; rng?: Rng; graceDays?: number; escrowPublic?: Uint8Array | null;
  botContact?: string; ttlMs?: number;
}): { state: PhysicianPairingDocument; offer: OfferV3 } {
  const graceDays = opts.graceDays ?? DEFAULT_GRACE_DAYS;
  const escrowPublic = opts.escrowPublic ?? null;
  const botContact = opts.botContact ?? "";
  if (identityPublic.length !== 32 || (escrowPublic !== null && escrowPublic.length !== 32)) {
    throw new MalformedToken("identity and escrow public keys must be 32 bytes");
  }
  if (!Number.isInteger(graceDays) || graceDays < 0 || graceDays > MAX_GRACE_DAYS) {
    throw new MalformedToken(`grace window must be 0..${MAX_GRACE_DAYS} days`);
  }
  if (new TextEncoder().encode(botContact).length > MAX_CONTACT_BYTES) {
    throw new MalformedToken(`bot contact must be at most ${MAX_CONTACT_BYTES} bytes`);
  }
  const rng = opts.rng ?? osRng;
  const pairingId = rng(16);
  const secret = rng(32);
  const ephPrivate = rng(32);
  const expiresAt = Math.floor((opts.now.getTime() + (opts.ttlMs ?? OFFER_TTL_MS)) / 1000);
  const offer: OfferV3 = {
    pairingId, offerSecret: secret, ephemeralPublic: x25519Public(ephPrivate), identityPublic,
    startEpoch: epochOf(opts.now), graceDays, expiresAt, escrowPublic, botContact,
  };
  const state: PhysicianPairingDocument = {
    format: PHYSICIAN_STATE_FORMAT, state: "waiting", pairing_id: b64e(pairingId),
    offer: b64e(offerBytes(offer)), ephemeral_private: b64e(ephPrivate), accepts: [], seen: [],
    candidate: null,
  };
  wipe(ephPrivate);
  return { state, offer };
}

interface Candidate { accept: AcceptV3; transcript: Uint8Array; root: Uint8Array; code: string }

interface PhysicianLoaded {
  status: PhysicianStatus; offer: OfferV3 | null; ephPrivate: Uint8Array | null;
  accepts: [string, string][]; seen: Uint8Array[]; candidate: Candidate | null;
}

const STATUSES: readonly PhysicianStatus[] = ["waiting", "unverified", "confirmed", "cancelled", "aborted"];

function verifyAccept(offer: OfferV3, ephPrivate: Uint8Array, accept: AcceptV3): Candidate {
  if (!constantTimeEqual(accept.admission, admissionValue(offer.offerSecret, offer.pairingId))) {
    throw new DecryptionFailed();
  }
  if (constantTimeEqual(accept.patientIdentity, offer.identityPublic)) {
    throw new WrongPairing("a companion cannot pair with itself");
  }
  const shared = x25519Shared(ephPrivate, accept.patientEphemeral);
  const transcript = transcriptHash(offer, accept.patientEphemeral, accept.patientIdentity);
  ed25519Require(accept.patientIdentity, concat(LABEL_ACCEPT_SIGNATURE, transcript), accept.signature);
  const root = rootKey(shared, offer.offerSecret, offer.pairingId, transcript);
  wipe(shared);
  return { accept, transcript, root, code: verificationCode(root, transcript) };
}

function loadPhysician(state: unknown): PhysicianLoaded {
  try {
    const s = obj(state);
    if (field(s, "format") !== PHYSICIAN_STATE_FORMAT) {
      throw new StorageError("unknown physician pairing state format");
    }
    const status = field(s, "state") as PhysicianStatus;
    if (!STATUSES.includes(status)) {
      throw new StorageError("physician pairing state is damaged");
    }
    b64d(field(s, "pairing_id"), 16);
    const rawAccepts = field(s, "accepts");
    const rawSeen = field(s, "seen");
    if (!Array.isArray(rawAccepts) || !Array.isArray(rawSeen)) {
      throw new StorageError("physician pairing state is damaged");
    }
    const accepts = rawAccepts.map((a: unknown): [string, string] => {
      if (!Array.isArray(a) || a.length !== 2 || typeof a[0] !== "string" || typeof a[1] !== "string"
        || Number.isNaN(Date.parse(a[0]))) {
        throw new StorageError("physician pairing state is damaged");
      }
      return [a[0], a[1]];
    });
    const seen = rawSeen.map((h: unknown) => b64d(h, 32));
    const offerField = field(s, "offer");
    if (offerField === null) {
      return { status, offer: null, ephPrivate: null, accepts, seen, candidate: null };
    }
    const offer = parseOfferBytes(b64d(offerField));
    const ephPrivate = b64d(field(s, "ephemeral_private"), 32);
    const candidateText = field(s, "candidate");
    let candidate: Candidate | null = null;
    if (candidateText !== null) {
      if (typeof candidateText !== "string") {
        throw new StorageError("physician pairing state is damaged");
      }
      candidate = verifyAccept(offer, ephPrivate, parseAccept(candidateText));
    }
    return { status, offer, ephPrivate, accepts, seen, candidate };
  } catch (error) {
    if (error instanceof StorageError) {
      throw error;
    }
    throw new StorageError("physician pairing state is damaged");
  }
}

function screenOf(p: PhysicianLoaded): PhysicianScreen {
  return {
    state: p.status, code: p.candidate?.code ?? null,
    accepts: p.accepts.map(([arrivedAt, account]) => ({ arrivedAt, account })),
    banner: p.status === "confirmed" ? "VERIFIED" : "UNVERIFIED",
  };
}

function exportPhysician(p: PhysicianLoaded, pairingId: string): PhysicianPairingDocument {
  const closed = p.status === "confirmed" || p.status === "cancelled" || p.status === "aborted";
  return {
    format: PHYSICIAN_STATE_FORMAT, state: p.status, pairing_id: pairingId,
    offer: closed || p.offer === null ? null : b64e(offerBytes(p.offer)),
    ephemeral_private: closed || p.ephPrivate === null ? null : b64e(p.ephPrivate),
    accepts: p.accepts.map(([a, b]) => [a, b]), seen: p.seen.map((h) => b64e(h)),
    candidate: closed || p.candidate === null ? null : encodeToken(p.candidate.accept.raw),
  };
}

function wipeLoaded(p: PhysicianLoaded): void {
  wipe(p.ephPrivate);
  if (p.offer !== null) {
    wipe(p.offer.offerSecret);
  }
  if (p.candidate !== null) {
    wipe(p.candidate.root);
  }
}

function requireOpen(p: PhysicianLoaded): OfferV3 {
  if (p.status === "aborted") {
    throw new QrShared();
  }
  if (p.status === "confirmed" || p.status === "cancelled" || p.offer === null) {
    throw new OfferReused("this pairing offer was already used");
  }
  return p.offer;
}

/** The physician's screen for a stored pairing state. */
export function physicianScreen(state: PhysicianPairingDocument): PhysicianScreen {
  const p = loadPhysician(state);
  try {
    return screenOf(p);
  } finally {
    wipeLoaded(p);
  }
}

/**
 * Check one relayed accept (§32's order). An invalid accept throws and changes nothing.
 * A second *valid* accept aborts the offer: the returned state is `aborted` (commit it)
 * and `abort` carries the QrShared error to show.
 */
export function receiveAccept(state: PhysicianPairingDocument, tokenText: string,
  opts: { now: Date; account?: string }): {
    state: PhysicianPairingDocument; screen: PhysicianScreen; abort: QrShared | null;
  } {
  const p = loadPhysician(state);
  try {
    const offer = requireOpen(p);
    const accept = parseAccept(tokenText);
    if (!constantTimeEqual(accept.pairingId, offer.pairingId)) {
      throw new WrongPairing("accept token is for another pairing offer");
    }
    if (expired(offer, opts.now)) {
      throw new OfferExpired("this pairing offer has expired; create a new one");
    }
    const aHash = acceptHash(accept.raw);
    if (p.seen.some((h) => constantTimeEqual(h, aHash))) {
      return { state: exportPhysician(p, state.pairing_id), screen: screenOf(p), abort: null };
    }
    const candidate = verifyAccept(offer, p.ephPrivate as Uint8Array, accept);
    p.seen.push(aHash);
    p.accepts.push([isoUtc(opts.now), maskAccount(opts.account ?? "")]);
    if (p.candidate !== null) {
      wipe(candidate.root);
      p.status = "aborted";
      const abort = new QrShared();
      const next = exportPhysician(p, state.pairing_id);
      return { state: next, screen: { ...screenOf(p), code: null }, abort };
    }
    p.candidate = candidate;
    p.status = "unverified";
    return { state: exportPhysician(p, state.pairing_id), screen: screenOf(p), abort: null };
  } finally {
    wipeLoaded(p);
  }
}

/** The physician's answer: only an explicit `confirm` (trimmed, any case) confirms. */
export function parseDecision(answer: string | null | undefined): "confirm" | "cancel" {
  return answer !== null && answer !== undefined && answer.trim().toLowerCase() === "confirm"
    ? "confirm" : "cancel";
}

/**
 * The physician confirmed that both screens show the same code: KEY_CONFIRM for the one
 * valid accept, and the secrets the ratchet starts from (§33).
 */
export function confirm(state: PhysicianPairingDocument, identitySeed: Uint8Array,
  opts: { now: Date }): { state: PhysicianPairingDocument; token: string; secrets: PairingSecrets } {
  const p = loadPhysician(state);
  try {
    const offer = requireOpen(p);
    const candidate = p.candidate;
    if (candidate === null) {
      throw new PairingCancelled("no valid accept to confirm yet");
    }
    if (expired(offer, opts.now)) {
      throw new OfferExpired("this pairing offer has expired; create a new one");
    }
    if (!constantTimeEqual(publicOf(identitySeed), offer.identityPublic)) {
      throw new WrongPairing("this identity did not make the offer");
    }
    const aHash = acceptHash(candidate.accept.raw);
    const prefix = confirmPrefix(offer.pairingId, aHash,
      confirmMac(candidate.root, candidate.transcript, aHash));
    const token = encodeToken(concat(prefix,
      ed25519Sign(identitySeed, concat(LABEL_CONFIRM_SIGNATURE, prefix))));
    const secrets: PairingSecrets = {
      role: "physician", pairingId: offer.pairingId, startEpoch: offer.startEpoch,
      graceDays: offer.graceDays, transcriptHash: candidate.transcript,
      rootKey: candidate.root.slice(), ownIdentityPrivate: identitySeed.slice(),
      peerIdentityPublic: candidate.accept.patientIdentity, escrowPublic: offer.escrowPublic,
      patientRatchetPublic: candidate.accept.patientEphemeral, patientRatchetPrivate: null,
      physicianRatchetPrivate: (p.ephPrivate as Uint8Array).slice(),
      physicianRatchetPublic: offer.ephemeralPublic,
    };
    p.status = "confirmed";
    return { state: exportPhysician(p, state.pairing_id), token, secrets };
  } finally {
    wipeLoaded(p);
  }
}

/** Cancel (the default answer): nothing is sent; the returned state holds no secret. */
export function cancel(state: PhysicianPairingDocument): PhysicianPairingDocument {
  const p = loadPhysician(state);
  try {
    if (p.status === "waiting" || p.status === "unverified") {
      p.status = "cancelled";
    }
    return exportPhysician(p, state.pairing_id);
  } finally {
    wipeLoaded(p);
  }
}

// --------------------------------------------------------------------------- pinned, verified

const LABEL_RECORD = label("MEDCRYPT v3 pinned-key record");
const LABEL_FINGERPRINT = label("MEDCRYPT v3 fingerprint");
export const PINNED_RECORD_LEN = 210;

export interface PinnedRecord {
  readonly pairingId: Uint8Array; readonly transcriptHash: Uint8Array;
  readonly physicianIdentity: Uint8Array; readonly patientIdentity: Uint8Array;
  readonly escrowPublic: Uint8Array; readonly raw: Uint8Array;
}

function record(raw: Uint8Array): PinnedRecord {
  return { pairingId: raw.slice(2, 18), transcriptHash: raw.slice(18, 50),
    physicianIdentity: raw.slice(50, 82), patientIdentity: raw.slice(82, 114),
    escrowPublic: raw.slice(114, 146), raw: raw.slice() };
}

/** The physician's companion signs the pinned-key record (§34.1) at pairing end. */
export function signRecord(identitySeed: Uint8Array, f: { pairingId: Uint8Array;
  transcriptHash: Uint8Array; patientIdentity: Uint8Array; escrowPublic: Uint8Array | null }): PinnedRecord {
  if (f.escrowPublic === null) {
    throw new MalformedToken("a pairing without an escrow key has no pinned-key record");
  }
  const body = new Writer().u8(3).u8(1).bytes(f.pairingId, 16, "pairing id")
    .bytes(f.transcriptHash, 32, "transcript").bytes(publicOf(identitySeed), 32)
    .bytes(f.patientIdentity, 32, "patient identity").bytes(f.escrowPublic, 32, "escrow key")
    .finish();
  return record(concat(body, ed25519Sign(identitySeed, concat(LABEL_RECORD, body))));
}

/** Verify a record against the clinic-enrolled physician key (§34.1). */
export function verifyRecord(raw: Uint8Array, enrolledPhysician: Uint8Array): PinnedRecord {
  if (raw.length !== PINNED_RECORD_LEN) {
    throw new MalformedToken("pinned-key record has the wrong length");
  }
  if (raw[0] !== 3 || raw[1] !== 1) {
    throw new MalformedToken("unsupported pinned-key record");
  }
  const r = record(raw);
  if (!constantTimeEqual(r.physicianIdentity, enrolledPhysician)) {
    throw new WrongPairing("the record is not signed by the enrolled physician key");
  }
  ed25519Require(enrolledPhysician, concat(LABEL_RECORD, raw.subarray(0, 146)), raw.subarray(146));
  return r;
}

/** Hex `SHA-256("MEDCRYPT v3 fingerprint" || identity key)` (§33). */
export function fingerprint(identityPublic: Uint8Array): string {
  return toHex(sha256(concat(LABEL_FINGERPRINT, identityPublic)));
}

/** The "verified" record (§33): bound to the peer key's fingerprint, not to a contact. */
export interface VerifiedPeer {
  readonly pairing_id: string;
  readonly fingerprint: string;
  /** Unix seconds from the injected clock. */
  readonly verified_at: number;
}

export function markVerified(pairingId: Uint8Array, peerIdentity: Uint8Array, at: number): VerifiedPeer {
  return { pairing_id: b64e(pairingId), fingerprint: fingerprint(peerIdentity), verified_at: at };
}

/** Refuse a session whose peer is not the verified key: PairingNotVerified / PeerKeyChanged. */
export function requireVerified(verified: VerifiedPeer | null, pairingId: Uint8Array,
  peerIdentity: Uint8Array): void {
  if (verified === null || !constantTimeEqual(b64d(verified.pairing_id, 16), pairingId)) {
    throw new PairingNotVerified(
      "this pairing is not verified yet: wait for the physician's confirmation");
  }
  const current = fingerprint(peerIdentity);
  const enc = new TextEncoder();
  if (!constantTimeEqual(enc.encode(current), enc.encode(verified.fingerprint))) {
    throw new PeerKeyChanged(`the other side's key changed (verified ${verified.fingerprint.slice(0, 16)}, `
      + `now ${current.slice(0, 16)}): do not trust it until you verify the new key in person`);
  }
}
