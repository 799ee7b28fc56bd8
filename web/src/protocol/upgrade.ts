/**
 * The v2 -> v3 upgrade's steps (docs/PROTOCOL.md §35, `crypto/endpoint/v3/upgrade.py`):
 * UPGRADE_OFFER signed by the physician's pinned identity, UPGRADE_ANSWER signed by the
 * patient's, the upgrade transcript and root, and the PairingSecrets the v3 ratchet
 * starts from. Each step reads the live v2 session document (role, pairing id, pinned
 * peer key, grace window, escrow key) and changes nothing in it.
 *
 * The web companion never holds a v2 pairing of its own, so it never starts an upgrade;
 * these steps exist so v3_upgrade.json replays in the browser too. Retiring the v2
 * session afterwards (`retired.py`: drop the v2 next-month key and sending chains) is
 * not ported here for the same reason.
 */

import { MalformedToken, OfferExpired, WrongPairing } from "../crypto/errors.js";
import {
  type Rng, constantTimeEqual, ed25519KeyPair, ed25519Require, ed25519Sign, hkdfSha256, osRng,
  sha256, wipe, x25519Public, x25519Shared,
} from "../crypto/primitives.js";
import { Writer, concat, label } from "./bytes.js";
import { CLOCK_SKEW_MS, MAX_GRACE_DAYS, epochOf } from "./epochs.js";
import { encodeToken } from "./text.js";
import { type UpgradeAnswer, type UpgradeOffer, offerHash } from "./upgradeWire.js";
import type { PairingSecrets } from "./v3session.js";
import { type SessionDocument, b64d, field, int, obj } from "./v3state.js";
import { parseToken } from "./wire.js";

const LABEL_OFFER_SIGNATURE = label("MEDCRYPT v3 upgrade offer signature");
const LABEL_ANSWER_SIGNATURE = label("MEDCRYPT v3 upgrade answer signature");
const LABEL_TRANSCRIPT = label("MEDCRYPT v3 upgrade transcript");
const LABEL_ROOT = label("MEDCRYPT v3 upgrade root");
export const UPGRADE_LIFETIME_MS = 14 * 24 * 3600 * 1000;

interface V2Facts {
  role: string; pairingId: Uint8Array; ownIdentity: Uint8Array; peerIdentity: Uint8Array;
  escrowPublic: Uint8Array | null; graceDays: number;
}

function facts(v2: SessionDocument): V2Facts {
  const s = obj(v2);
  const escrow = field(s, "escrow_public");
  return { role: String(field(s, "role")), pairingId: b64d(field(s, "pairing_id"), 16),
    ownIdentity: b64d(field(s, "own_identity"), 32), peerIdentity: b64d(field(s, "peer_identity"), 32),
    escrowPublic: escrow === null ? null : b64d(escrow, 32),
    graceDays: int(field(obj(field(s, "schedule")), "grace_days")) };
}

function ownSide(f: V2Facts, identitySeed: Uint8Array, role: string): Uint8Array {
  const pair = ed25519KeyPair(identitySeed);
  wipe(pair.secretKey);
  if (f.role !== role) {
    throw new WrongPairing(`only the ${role}'s companion takes this upgrade step`);
  }
  if (constantTimeEqual(pair.publicKey, f.peerIdentity)) {
    throw new WrongPairing("this identity is the peer's");
  }
  return pair.publicKey;
}

export function upgradeTranscript(offer: UpgradeOffer, patientEphemeral: Uint8Array,
  physicianIdentity: Uint8Array, patientIdentity: Uint8Array): Uint8Array {
  return sha256(concat(LABEL_TRANSCRIPT, offer.raw, patientEphemeral, physicianIdentity, patientIdentity));
}

function rootKey(shared: Uint8Array, pairingId: Uint8Array, t: Uint8Array): Uint8Array {
  return hkdfSha256(shared, pairingId, concat(LABEL_ROOT, t));
}

function parseOffer(text: string): UpgradeOffer {
  const token = parseToken(text);
  if (token.kind !== "upgrade" || token.upgrade.kind !== "upgrade-offer") {
    throw new MalformedToken("unexpected token kind for this upgrade step");
  }
  return token.upgrade;
}

function parseAnswer(text: string): UpgradeAnswer {
  const token = parseToken(text);
  if (token.kind !== "upgrade" || token.upgrade.kind !== "upgrade-answer") {
    throw new MalformedToken("unexpected token kind for this upgrade step");
  }
  return token.upgrade;
}

/** Physician, step 1: UPGRADE_OFFER (draws `E_d`, 32). Keep `ephemeralPrivate` until step 3. */
export function offerUpgrade(v2: SessionDocument, identitySeed: Uint8Array, opts: {
  now: Date; rng?: Rng; escrowPublic?: Uint8Array | null; lifetimeMs?: number;
}): { token: string; offer: UpgradeOffer; ephemeralPrivate: Uint8Array } {
  const f = facts(v2);
  ownSide(f, identitySeed, "physician");
  const escrow = opts.escrowPublic ?? f.escrowPublic;
  const priv = (opts.rng ?? osRng)(32);
  const body = new Writer().u8(3).u8(7).bytes(f.pairingId, 16).u8(1).u32(epochOf(opts.now))
    .u16(f.graceDays).u64(Math.floor((opts.now.getTime() + (opts.lifetimeMs ?? UPGRADE_LIFETIME_MS)) / 1000))
    .u8(escrow === null ? 0 : 1).bytes(escrow ?? new Uint8Array(32), 32)
    .bytes(x25519Public(priv), 32).finish();
  const raw = concat(body, ed25519Sign(identitySeed, concat(LABEL_OFFER_SIGNATURE, body)));
  const token = encodeToken(raw);
  return { token, offer: parseOffer(token), ephemeralPrivate: priv };
}

/** Patient, step 2: check the offer (§35.5's order), draw `E_p`, answer, get the secrets. */
export function answerUpgrade(offerText: string, v2: SessionDocument, identitySeed: Uint8Array,
  opts: { now: Date; rng?: Rng }): { token: string; secrets: PairingSecrets } {
  const f = facts(v2);
  const own = ownSide(f, identitySeed, "patient");
  const offer = parseOffer(offerText);
  if (!constantTimeEqual(offer.pairingId, f.pairingId)) {
    throw new WrongPairing("upgrade offer is for another pairing");
  }
  ed25519Require(f.peerIdentity, concat(LABEL_OFFER_SIGNATURE, offer.raw.subarray(0, 98)), offer.signature);
  const now = opts.now.getTime();
  if (now / 1000 >= offer.expiresAt) {
    throw new OfferExpired("this upgrade offer has expired; ask for a new one");
  }
  if (offer.startEpoch !== epochOf(new Date(now - CLOCK_SKEW_MS))
    && offer.startEpoch !== epochOf(new Date(now + CLOCK_SKEW_MS))) {
    throw new WrongPairing("upgrade offer starts in another month than the current one");
  }
  if (offer.graceDays > MAX_GRACE_DAYS) {
    throw new WrongPairing("upgrade offer has a grace window out of range");
  }
  const priv = (opts.rng ?? osRng)(32);
  const pub = x25519Public(priv);
  const shared = x25519Shared(priv, offer.physicianEphemeral);
  const t = upgradeTranscript(offer, pub, f.peerIdentity, own);
  const root = rootKey(shared, offer.pairingId, t);
  wipe(shared);
  const prefix = new Writer().u8(3).u8(7).bytes(offer.pairingId, 16).u8(2)
    .bytes(offerHash(offer.raw), 32).bytes(pub, 32).finish();
  const token = encodeToken(concat(prefix, ed25519Sign(identitySeed, concat(LABEL_ANSWER_SIGNATURE, t))));
  return { token, secrets: {
    role: "patient", pairingId: offer.pairingId, startEpoch: offer.startEpoch,
    graceDays: offer.graceDays, transcriptHash: t, rootKey: root,
    ownIdentityPrivate: identitySeed.slice(), peerIdentityPublic: f.peerIdentity,
    escrowPublic: offer.escrowPublic, patientRatchetPublic: pub, patientRatchetPrivate: priv,
    physicianRatchetPrivate: null, physicianRatchetPublic: offer.physicianEphemeral,
  } };
}

/** Physician, step 3: check the answer (§35.5's order) and get the secrets. */
export function finishUpgrade(pending: { offer: UpgradeOffer; ephemeralPrivate: Uint8Array },
  answerText: string, v2: SessionDocument, identitySeed: Uint8Array, opts: { now: Date }): PairingSecrets {
  const f = facts(v2);
  const own = ownSide(f, identitySeed, "physician");
  const answer = parseAnswer(answerText);
  const offer = pending.offer;
  if (!constantTimeEqual(answer.pairingId, f.pairingId) || !constantTimeEqual(offer.pairingId, f.pairingId)) {
    throw new WrongPairing("upgrade answer is for another pairing");
  }
  if (!constantTimeEqual(answer.offerHash, offerHash(offer.raw))) {
    throw new WrongPairing("upgrade answer names another offer");
  }
  if (opts.now.getTime() / 1000 >= offer.expiresAt) {
    throw new OfferExpired("this upgrade offer has expired; offer the upgrade again");
  }
  const t = upgradeTranscript(offer, answer.patientEphemeral, own, f.peerIdentity);
  ed25519Require(f.peerIdentity, concat(LABEL_ANSWER_SIGNATURE, t), answer.signature);
  const shared = x25519Shared(pending.ephemeralPrivate, answer.patientEphemeral);
  const root = rootKey(shared, offer.pairingId, t);
  wipe(shared);
  const secrets: PairingSecrets = {
    role: "physician", pairingId: offer.pairingId, startEpoch: offer.startEpoch,
    graceDays: offer.graceDays, transcriptHash: t, rootKey: root,
    ownIdentityPrivate: identitySeed.slice(), peerIdentityPublic: f.peerIdentity,
    escrowPublic: offer.escrowPublic, patientRatchetPublic: answer.patientEphemeral,
    patientRatchetPrivate: null, physicianRatchetPrivate: pending.ephemeralPrivate.slice(),
    physicianRatchetPublic: offer.physicianEphemeral,
  };
  wipe(pending.ephemeralPrivate);
  return secrets;
}
