/**
 * A v2 session (docs/PROTOCOL.md §6-§9, §12; `crypto/endpoint/session.py`,
 * `keyschedule.py`, `ratchet.py`, `escrow.py`) as pure functions over its
 * `medcrypt-session/1` document. The web companion makes no v2 pairing; this reads and
 * writes v2 exactly as the CLI does so the v2 vectors replay in the browser.
 *
 * Calendar: one epoch key is held, the seed of the next month to enter; entering a month
 * derives both chains and, with escrow, seals that month's deposit (handed out with the
 * next message); months past their grace end are shredded.
 */

import {
  EpochNotYet, EpochShredded, LimitExceeded, MalformedToken, ReplayDetected, StorageError,
  WrongPairing,
} from "../crypto/errors.js";
import {
  type Rng, constantTimeEqual, ed25519KeyPair, ed25519Sign, osRng, sealedBoxSeal, wipe,
  xchachaDecrypt, xchachaEncrypt,
} from "../crypto/primitives.js";
import { concat } from "./bytes.js";
import { type ContentType, LABEL_V2, MAX_BODY, checkBody, open as openEnvelope, seal } from "./envelope.js";
import {
  CLOCK_SKEW_MS, MAX_GRACE_DAYS, epochOf, formatEpoch, graceEndMs,
} from "./epochs.js";
import { encodeToken } from "./text.js";
import { advance as advanceKey, chainKey0, chainStep } from "./v2keys.js";
import type { PairingOutcomeV2 } from "./v2pairing.js";
import { isoUtc } from "./v3session.js";
import { type Role, type SessionDocument, b64d, b64e, field, int, obj } from "./v3state.js";
import type { Direction } from "./v3wire.js";
import { MESSAGE_HEADER_V2_LEN, encodeSealedHeaderV2, parseToken } from "./wire.js";

export const STATE_FORMAT_V2 = "medcrypt-session/1";
const MAX_SKIP = 1000;
const MAX_STORED_SKIPPED = 1000;

interface Chains {
  send: { ck: Uint8Array; next: number };
  recv: { ck: Uint8Array; next: number; skipped: Map<number, Uint8Array> };
  deposit: string | null;
}

interface V2 {
  role: Role; pairingId: Uint8Array; ownIdentity: Uint8Array; peerIdentity: Uint8Array;
  escrowPublic: Uint8Array | null; botContact: string; transcriptHash: Uint8Array;
  startEpoch: number; graceDays: number; nextEpoch: number; nextKey: Uint8Array;
  live: Set<number>; shredded: Map<number, string>; epochs: Map<number, Chains>;
}

function own(v: V2): Direction {
  return v.role === "patient" ? 0 : 1;
}

function load(document: unknown): V2 {
  try {
    const s = obj(document);
    if (field(s, "format") !== STATE_FORMAT_V2) {
      throw new StorageError("unknown session state format");
    }
    const role = field(s, "role");
    if (role !== "patient" && role !== "physician") {
      throw new StorageError("session state is damaged");
    }
    const sched = obj(field(s, "schedule"));
    const escrow = field(s, "escrow_public");
    const live = field(sched, "live");
    if (!Array.isArray(live)) {
      throw new StorageError("session state is damaged");
    }
    const v: V2 = {
      role, pairingId: b64d(field(s, "pairing_id"), 16),
      ownIdentity: b64d(field(s, "own_identity"), 32),
      peerIdentity: b64d(field(s, "peer_identity"), 32),
      escrowPublic: escrow === null ? null : b64d(escrow, 32),
      botContact: String(field(s, "bot_contact")),
      transcriptHash: b64d(field(s, "transcript_hash"), 32),
      startEpoch: int(field(sched, "start_epoch")), graceDays: int(field(sched, "grace_days")),
      nextEpoch: int(field(sched, "next_epoch")), nextKey: b64d(field(sched, "next_key"), 32),
      live: new Set(live.map((e) => int(e))), shredded: new Map(), epochs: new Map(),
    };
    if (v.graceDays > MAX_GRACE_DAYS) {
      throw new StorageError("epoch schedule state has an invalid grace window");
    }
    for (const [e, when] of Object.entries(obj(field(sched, "shredded")))) {
      v.shredded.set(int(Number(e)), String(when));
    }
    for (const [e, raw] of Object.entries(obj(field(s, "epochs")))) {
      const c = obj(raw);
      const send = obj(field(c, "send"));
      const recv = obj(field(c, "recv"));
      const skipped = new Map<number, Uint8Array>();
      for (const [i, k] of Object.entries(obj(field(recv, "skipped")))) {
        skipped.set(int(Number(i)), b64d(k, 32));
      }
      const deposit = c.deposit ?? null;
      if (deposit !== null && typeof deposit !== "string") {
        throw new StorageError("escrow deposit state is damaged");
      }
      v.epochs.set(int(Number(e)), {
        send: { ck: b64d(field(send, "ck"), 32), next: int(field(send, "next")) },
        recv: { ck: b64d(field(recv, "ck"), 32), next: int(field(recv, "next")), skipped },
        deposit,
      });
    }
    if (v.epochs.size !== v.live.size || [...v.live].some((e) => !v.epochs.has(e))) {
      throw new StorageError("session state is inconsistent (epochs)");
    }
    return v;
  } catch (error) {
    if (error instanceof StorageError) {
      throw error;
    }
    throw new StorageError("session state is damaged");
  }
}

function exportDoc(v: V2): SessionDocument {
  const epochs: SessionDocument = {};
  for (const e of [...v.epochs.keys()].sort((a, b) => a - b)) {
    const c = v.epochs.get(e) as Chains;
    const skipped: SessionDocument = {};
    for (const i of [...c.recv.skipped.keys()].sort((a, b) => a - b)) {
      skipped[String(i)] = b64e(c.recv.skipped.get(i) as Uint8Array);
    }
    epochs[String(e)] = { send: { ck: b64e(c.send.ck), next: c.send.next },
      recv: { ck: b64e(c.recv.ck), next: c.recv.next, skipped }, deposit: c.deposit };
  }
  const shredded: SessionDocument = {};
  for (const e of [...v.shredded.keys()].sort((a, b) => a - b)) {
    shredded[String(e)] = v.shredded.get(e) as string;
  }
  return {
    format: STATE_FORMAT_V2, role: v.role, pairing_id: b64e(v.pairingId),
    own_identity: b64e(v.ownIdentity), peer_identity: b64e(v.peerIdentity),
    escrow_public: v.escrowPublic === null ? null : b64e(v.escrowPublic),
    bot_contact: v.botContact, transcript_hash: b64e(v.transcriptHash),
    schedule: { start_epoch: v.startEpoch, grace_days: v.graceDays, next_epoch: v.nextEpoch,
      next_key: b64e(v.nextKey), live: [...v.live].sort((a, b) => a - b), shredded },
    epochs,
  };
}

/** §7: the month's key sealed to the escrow key, with both identities, as a token. */
function makeDeposit(v: V2, epoch: number, key: Uint8Array, rng: Rng): string {
  const header = encodeSealedHeaderV2("deposit", v.pairingId,
    { epoch, direction: own(v), index: 0, nonce: rng(24) });
  const [patient, physician] = v.role === "patient"
    ? [v.ownIdentity, v.peerIdentity] : [v.peerIdentity, v.ownIdentity];
  const inner = concat(header, key, patient, physician);
  try {
    return encodeToken(concat(header, sealedBoxSeal(v.escrowPublic as Uint8Array, inner, rng)));
  } finally {
    wipe(inner);
  }
}

/** Enter every month up to `now` (+5 min) and shred those past their grace end (§6). */
function advance(v: V2, now: Date, rng: Rng): number[] {
  const target = epochOf(new Date(now.getTime() + CLOCK_SKEW_MS));
  const stamp = isoUtc(now);
  const shredded: number[] = [];
  while (v.nextEpoch <= target) {
    const epoch = v.nextEpoch;
    const key = v.nextKey;
    v.nextKey = advanceKey(key, epoch + 1);
    v.nextEpoch = epoch + 1;
    if (now.getTime() >= graceEndMs(epoch, v.graceDays)) {
      v.shredded.set(epoch, stamp);
      shredded.push(epoch);
    } else {
      v.live.add(epoch);
      const peer = (1 - own(v)) as Direction;
      v.epochs.set(epoch, {
        send: { ck: chainKey0(key, v.pairingId, own(v), epoch), next: 0 },
        recv: { ck: chainKey0(key, v.pairingId, peer, epoch), next: 0, skipped: new Map() },
        deposit: v.escrowPublic === null ? null : makeDeposit(v, epoch, key, rng),
      });
    }
    wipe(key);
  }
  for (const epoch of [...v.live].sort((a, b) => a - b)) {
    if (now.getTime() >= graceEndMs(epoch, v.graceDays)) {
      v.live.delete(epoch);
      v.shredded.set(epoch, stamp);
      shredded.push(epoch);
      const c = v.epochs.get(epoch);
      if (c !== undefined) {
        wipe(c.send.ck);
        wipe(c.recv.ck);
        v.epochs.delete(epoch);
      }
    }
  }
  return shredded.sort((a, b) => a - b);
}

function check(v: V2, epoch: number, now: Date): void {
  if (v.live.has(epoch)) {
    if (epoch > epochOf(new Date(now.getTime() + CLOCK_SKEW_MS))) {
      throw new EpochNotYet(`epoch ${formatEpoch(epoch)} has not started yet`);
    }
    return;
  }
  if (epoch < v.startEpoch) {
    throw new WrongPairing(`epoch ${formatEpoch(epoch)} precedes this pairing`);
  }
  const when = v.shredded.get(epoch);
  if (when !== undefined) {
    throw new EpochShredded(`epoch ${formatEpoch(epoch)} was shredded at ${when} `
      + `(grace ended ${isoUtc(new Date(graceEndMs(epoch, v.graceDays)))})`);
  }
  throw new EpochNotYet(`epoch ${formatEpoch(epoch)} has not started yet`);
}

/** A new v2 session document from a pairing outcome; wipes the outcome's start key. */
export function fromOutcomeV2(o: PairingOutcomeV2, opts: { now: Date; rng?: Rng }): SessionDocument {
  if (o.graceDays < 0 || o.graceDays > MAX_GRACE_DAYS) {
    throw new WrongPairing(`grace window of ${o.graceDays} days is not allowed`);
  }
  const v: V2 = {
    role: o.role, pairingId: o.pairingId, ownIdentity: o.ownIdentity, peerIdentity: o.peerIdentity,
    escrowPublic: o.escrowPublic, botContact: o.botContact, transcriptHash: o.transcriptHash,
    startEpoch: o.startEpoch, graceDays: o.graceDays, nextEpoch: o.startEpoch,
    nextKey: o.startKey.slice(), live: new Set(), shredded: new Map(), epochs: new Map(),
  };
  wipe(o.startKey);
  advance(v, opts.now, opts.rng ?? osRng);
  return exportDoc(v);
}

/** Seal `body` in the current month; may hand out that month's escrow deposit. */
export function encryptV2(state: SessionDocument, identitySeed: Uint8Array, body: Uint8Array,
  opts: { now: Date; rng?: Rng; contentType?: ContentType }): {
    state: SessionDocument; token: string; escrowDeposit: string | null;
  } {
  if (body.length > MAX_BODY) {
    throw new LimitExceeded(`message body exceeds ${MAX_BODY} bytes`);
  }
  const contentType = opts.contentType ?? 1;
  checkBody(contentType, body);
  const v = load(state);
  const signer = ed25519KeyPair(identitySeed);
  try {
    if (!constantTimeEqual(signer.publicKey, v.ownIdentity)) {
      throw new StorageError("this identity key does not belong to the pairing");
    }
    const rng = opts.rng ?? osRng;
    advance(v, opts.now, rng);
    const epoch = epochOf(opts.now);
    check(v, epoch, opts.now);
    const chains = v.epochs.get(epoch) as Chains;
    const nonce = rng(24);
    if (chains.send.next > 0xffffffff) {
      throw new LimitExceeded("this month's chain is exhausted; wait for the next epoch");
    }
    const [mk, ck] = chainStep(chains.send.ck);
    wipe(chains.send.ck);
    chains.send.ck = ck;
    const index = chains.send.next;
    chains.send.next += 1;
    const header = encodeSealedHeaderV2("message", v.pairingId, { epoch, direction: own(v), index, nonce });
    const inner = seal(header, contentType, body, opts.now.getTime(),
      (m) => ed25519Sign(signer.secretKey, m), LABEL_V2);
    const token = encodeToken(concat(header, xchachaEncrypt(mk, nonce, inner, header)));
    wipe(mk);
    const escrowDeposit = chains.deposit;
    chains.deposit = null;
    return { state: exportDoc(v), token, escrowDeposit };
  } finally {
    wipe(signer.secretKey);
  }
}

/** Open a v2 MESSAGE from the peer (§9's order); the new state only if it verified. */
export function decryptV2(state: SessionDocument, tokenText: string, opts: { now: Date; rng?: Rng }): {
  state: SessionDocument; opened: { contentType: ContentType; body: Uint8Array; sentAtMs: number;
    epoch: number; index: number };
} {
  const token = parseToken(tokenText);
  if (token.version !== 2 || token.kind !== "message") {
    throw new MalformedToken("expected a message token");
  }
  const v = load(state);
  if (!constantTimeEqual(token.pairingId, v.pairingId)) {
    throw new WrongPairing("token belongs to another pairing");
  }
  if (token.direction === own(v)) {
    throw new WrongPairing("token travels in this side's own direction (reflected)");
  }
  advance(v, opts.now, opts.rng ?? osRng);
  check(v, token.epoch, opts.now);
  const recv = (v.epochs.get(token.epoch) as Chains).recv;
  const index = token.index;
  let messageKey: Uint8Array;
  let newCk: Uint8Array | null = null;
  const skipped: [number, Uint8Array][] = [];
  if (index < recv.next) {
    const key = recv.skipped.get(index);
    if (key === undefined) {
      throw new ReplayDetected(`message ${index} was already opened or is too old`);
    }
    messageKey = key;
  } else {
    const gap = index - recv.next;
    if (gap > MAX_SKIP) {
      throw new LimitExceeded(`message ${index} skips ${gap} messages (limit ${MAX_SKIP})`);
    }
    let ck: Uint8Array = recv.ck.slice();
    for (let i = recv.next; i < index; i += 1) {
      const [mk, next] = chainStep(ck);
      skipped.push([i, mk]);
      ck = next;
    }
    [messageKey, newCk] = chainStep(ck);
  }
  const header = token.raw.subarray(0, MESSAGE_HEADER_V2_LEN);
  const inner = xchachaDecrypt(messageKey, token.nonce, token.raw.subarray(MESSAGE_HEADER_V2_LEN), header);
  const env = openEnvelope(header, inner, v.peerIdentity, LABEL_V2);
  if (newCk === null) {
    recv.skipped.delete(index);
  } else {
    for (const [i, k] of skipped) {
      recv.skipped.set(i, k);
    }
    while (recv.skipped.size > MAX_STORED_SKIPPED) {
      recv.skipped.delete(Math.min(...recv.skipped.keys()));
    }
    wipe(recv.ck);
    recv.ck = newCk;
    recv.next = index + 1;
  }
  return { state: exportDoc(v), opened: { contentType: env.contentType, body: env.body,
    sentAtMs: env.sentAtMs, epoch: token.epoch, index } };
}
