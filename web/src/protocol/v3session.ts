/**
 * One v3 pairing seen from one side: the Double Ratchet in calendar months
 * (docs/PROTOCOL.md §20-§29), ported from `crypto/endpoint/v3/session.py` rule for rule.
 *
 * The public API is pure: {@link encrypt}, {@link decrypt} and {@link shredDue} take a
 * `medcrypt-session/3` document (plain JSON, bytes as base64), an injected clock value
 * and RNG, and return a *new* document with their output. The caller's document is never
 * mutated, so the app can commit the new state to IndexedDB before it shows anything
 * (a crash in between then loses a message rather than replaying a key).
 *
 * Inside, a receive is tentative exactly as in Python: DH step, skips, derivation, AEAD
 * and signature are computed on the side, and only a token that verified changes state.
 */

import {
  DecryptionFailed, EpochMismatch, EpochNotYet, EpochShredded, LimitExceeded, ReplayDetected,
  StorageError, WrongPairing,
} from "../crypto/errors.js";
import {
  type Rng, constantTimeEqual, ed25519KeyPair, ed25519Sign, osRng, wipe, x25519Public,
  x25519Shared, xchachaDecrypt, xchachaEncrypt,
} from "../crypto/primitives.js";
import { canonicalJson, type Json } from "./canonical.js";
import { makeDeposit } from "./deposit.js";
import { peerVerifier } from "../crypto/peer-verifier.js";
import { type ContentType, LABEL_V3, MAX_BODY, checkBody, openWith, seal } from "./envelope.js";
import {
  CLOCK_SKEW_MS, MAX_EPOCH, MAX_GRACE_DAYS, epochOf, formatEpoch, graceEndMs,
} from "./epochs.js";
import { decodeToken, encodeToken } from "./text.js";
import {
  MAX_MONTH_WALK, advanceMonthRoot, advanceMonthSeed, chainStep, initialMonthRoot, rootStep,
  segmentKey, segmentSeed, walk,
} from "./v3kdf.js";
import {
  RecvChain, RecvSegment, type Role, STATE_FORMAT, SendChain, type SessionDocument, b64d, b64e,
  field, int, obj,
} from "./v3state.js";
import {
  type Direction, MAX_INDEX, type MessageHeaderV3, encodeHeader, encodeMessage, parseMessage,
} from "./v3wire.js";

export const MAX_SKIP = 1000;
export const MAX_SKIPPED_PER_CHAIN = 1000;
export const MAX_SKIPPED_PER_PAIRING = 2000;
export const MAX_RECV_CHAINS = 5;
export const DEPOSIT_REPEATS = 3;

/** What pairing hands to the ratchet (§33 `PairingSecrets`). */
export interface PairingSecrets {
  role: Role;
  pairingId: Uint8Array;
  startEpoch: number;
  graceDays: number;
  transcriptHash: Uint8Array;
  rootKey: Uint8Array;
  ownIdentityPrivate: Uint8Array;
  peerIdentityPublic: Uint8Array;
  escrowPublic: Uint8Array | null;
  patientRatchetPublic: Uint8Array;
  patientRatchetPrivate: Uint8Array | null;
  physicianRatchetPrivate: Uint8Array | null;
  physicianRatchetPublic: Uint8Array;
}

export interface Opened {
  readonly contentType: ContentType;
  readonly body: Uint8Array;
  readonly sentAtMs: number;
  readonly epoch: number;
  readonly chainId: Uint8Array;
  readonly index: number;
}

/** Python's `datetime.isoformat()` of a UTC instant, as the state records it. */
export function isoUtc(at: Date): string {
  const iso = at.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const ms = at.getUTCMilliseconds();
  const base = iso.slice(0, 19);
  return ms === 0 ? `${base}+00:00` : `${base}.${String(ms * 1000).padStart(6, "0")}+00:00`;
}

interface Plan {
  chain: RecvChain;
  newChain: boolean;
  newRoot: Uint8Array | null;
  newSegments: Map<number, Uint8Array>;
  newSeed: [Uint8Array, number] | null;
  epoch: number;
  index: number;
  messageKey: Uint8Array;
  targetNextKey: Uint8Array | null;
  targetSkipped: [number, Uint8Array][];
  prev: RecvSegment | null;
  prevEpoch: number;
  prevChain: RecvChain | null;
  prevSkipped: [number, Uint8Array][];
}

function derive(chainKey: Uint8Array, start: number, stop: number): [[number, Uint8Array][], Uint8Array] {
  let ck: Uint8Array = chainKey.slice();
  const keys: [number, Uint8Array][] = [];
  for (let i = start; i < stop; i += 1) {
    const [mk, next] = chainStep(ck);
    wipe(ck);
    keys.push([i, mk]);
    ck = next;
  }
  return [keys, ck];
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** The mutable working copy of one document; never escapes this module. */
class Core {
  role!: Role;
  pairingId!: Uint8Array;
  transcriptHash!: Uint8Array;
  ownIdentity!: Uint8Array;
  peerIdentity!: Uint8Array;
  escrowPublic!: Uint8Array | null;
  startEpoch!: number;
  graceDays!: number;
  root!: Uint8Array;
  monthRoot!: Uint8Array;
  monthRootEpoch!: number;
  shredded!: Map<number, string>;
  peerRatchet!: Uint8Array;
  needNewChain!: boolean;
  send!: SendChain | null;
  recv!: RecvChain[];
  ownDirection!: Direction;
  peerDirection!: Direction;
  signer: Uint8Array | null = null;

  static load(document: unknown): Core {
    const core = new Core();
    const s = obj(document);
    if (field(s, "format") !== STATE_FORMAT) {
      throw new StorageError("unknown session state format");
    }
    const role = field(s, "role");
    if (role !== "patient" && role !== "physician") {
      throw new StorageError("session state is damaged");
    }
    const recv = field(s, "recv");
    if (!Array.isArray(recv)) {
      throw new StorageError("session state is damaged");
    }
    core.role = role;
    core.pairingId = b64d(field(s, "pairing_id"), 16);
    core.transcriptHash = b64d(field(s, "transcript_hash"), 32);
    core.ownIdentity = b64d(field(s, "own_identity"), 32);
    core.peerIdentity = b64d(field(s, "peer_identity"), 32);
    const escrow = field(s, "escrow_public");
    core.escrowPublic = escrow === null ? null : b64d(escrow, 32);
    core.startEpoch = int(field(s, "start_epoch"));
    core.graceDays = int(field(s, "grace_days"));
    core.root = b64d(field(s, "root_key"), 32);
    core.monthRoot = b64d(field(s, "month_root"), 32);
    core.monthRootEpoch = int(field(s, "month_root_epoch"));
    core.shredded = new Map();
    for (const [e, t] of Object.entries(obj(field(s, "shredded")))) {
      if (typeof t !== "string" || !/^(0|[1-9][0-9]*)$/.test(e)) {
        throw new StorageError("session state is damaged");
      }
      core.shredded.set(int(Number(e)), t);
    }
    core.peerRatchet = b64d(field(s, "peer_ratchet"), 32);
    const need = field(s, "need_new_chain");
    if (typeof need !== "boolean") {
      throw new StorageError("session state is damaged");
    }
    core.needNewChain = need;
    const send = field(s, "send");
    core.send = send === null ? null : SendChain.load(send);
    core.recv = recv.map((c) => RecvChain.load(c));
    if (core.graceDays > MAX_GRACE_DAYS || core.recv.length > MAX_RECV_CHAINS) {
      throw new StorageError("session state is out of range");
    }
    core.ownDirection = role === "patient" ? 0 : 1;
    core.peerDirection = role === "patient" ? 1 : 0;
    return core;
  }

  withIdentity(identitySeed: Uint8Array): this {
    const pair = ed25519KeyPair(identitySeed);
    if (!same(pair.publicKey, this.ownIdentity)) {
      wipe(pair.secretKey);
      throw new StorageError("this identity key does not belong to the session");
    }
    this.signer = pair.secretKey;
    return this;
  }

  export(): SessionDocument {
    const shredded: SessionDocument = {};
    for (const [e, t] of [...this.shredded.entries()].sort((a, b) => a[0] - b[0])) {
      shredded[String(e)] = t;
    }
    return {
      format: STATE_FORMAT, role: this.role, pairing_id: b64e(this.pairingId),
      transcript_hash: b64e(this.transcriptHash), own_identity: b64e(this.ownIdentity),
      peer_identity: b64e(this.peerIdentity),
      escrow_public: this.escrowPublic === null ? null : b64e(this.escrowPublic),
      start_epoch: this.startEpoch, grace_days: this.graceDays, root_key: b64e(this.root),
      month_root: b64e(this.monthRoot), month_root_epoch: this.monthRootEpoch, shredded,
      peer_ratchet: b64e(this.peerRatchet), need_new_chain: this.needNewChain,
      send: this.send === null ? null : this.send.export(),
      recv: this.recv.map((c) => c.export()),
    };
  }

  wipe(): void {
    wipe(this.root);
    wipe(this.monthRoot);
    wipe(this.signer);
    this.send?.wipe();
    for (const c of this.recv) {
      c.wipe();
    }
  }

  // ------------------------------------------------------------------ calendar

  monthRootAt(epoch: number): Uint8Array {
    return walk(this.monthRoot, this.monthRootEpoch, epoch, advanceMonthRoot);
  }

  shredDue(now: Date): number[] {
    const done: number[] = [];
    while (this.monthRootEpoch < MAX_EPOCH - 1
      && now.getTime() >= graceEndMs(this.monthRootEpoch, this.graceDays)) {
      const month = this.monthRootEpoch;
      this.shred(month);
      this.shredded.set(month, isoUtc(now));
      done.push(month);
    }
    return done;
  }

  private shred(month: number): void {
    for (const chain of this.recv) {
      const segment = chain.segments.get(month);
      if (segment !== undefined) {
        segment.wipe();
        chain.segments.delete(month);
      }
      if (chain.seedMonth <= month) {
        const next = advanceMonthSeed(chain.seed, month + 1);
        wipe(chain.seed);
        chain.seed = next;
        chain.seedMonth = month + 1;
      }
    }
    const send = this.send;
    if (send !== null) {
      if (send.segmentEpoch === month) {
        wipe(send.chainKey);
        send.chainKey = null;
        send.deposit = null;
      }
      if (send.chainEpoch === month && send.firstSeed !== null) {
        wipe(send.firstSeed);
        send.firstSeed = null;
      }
      if (send.seedMonth <= month) {
        const next = advanceMonthSeed(send.seed, month + 1);
        wipe(send.seed);
        send.seed = next;
        send.seedMonth = month + 1;
      }
    }
    const next = advanceMonthRoot(this.monthRoot, month + 1);
    wipe(this.monthRoot);
    this.monthRoot = next;
    this.monthRootEpoch = month + 1;
  }

  private checkEpoch(epoch: number, now: Date): void {
    if (epoch < this.startEpoch) {
      throw new WrongPairing(`month ${formatEpoch(epoch)} precedes this pairing`);
    }
    if (epoch < this.monthRootEpoch) {
      const when = this.shredded.get(epoch) ?? "before this device's first use of it";
      throw new EpochShredded(`messages of ${formatEpoch(epoch)} were shredded at ${when} `
        + `(grace ended ${isoUtc(new Date(graceEndMs(epoch, this.graceDays)))}); they cannot be read`);
    }
    if (epoch > epochOf(new Date(now.getTime() + CLOCK_SKEW_MS))) {
      throw new EpochNotYet(`month ${formatEpoch(epoch)} has not started yet`);
    }
  }

  // ------------------------------------------------------------------ sending

  encrypt(body: Uint8Array, contentType: ContentType, now: Date, rng: Rng): string {
    if (body.length > MAX_BODY) {
      throw new LimitExceeded(`message body exceeds ${MAX_BODY} bytes`);
    }
    checkBody(contentType, body);
    const signer = this.signer;
    if (signer === null) {
      throw new StorageError("no identity key loaded");
    }
    this.shredDue(now);
    const month = epochOf(now);
    if (month < this.startEpoch) {
      throw new EpochNotYet("this pairing starts in a later month");
    }
    let send = this.send;
    if (send === null || this.needNewChain) {
      send = this.newSendChain(month, rng);
    } else if (send.segmentEpoch === null || send.segmentEpoch < month || send.chainKey === null) {
      this.newSegment(send, Math.max(month, send.segmentEpoch ?? 0), rng);
    }
    if (send.chainKey === null || send.segmentEpoch === null) {
      throw new StorageError("session state is damaged");
    }
    const [mk, ck] = chainStep(send.chainKey);
    const index = send.nextIndex;
    if (index > MAX_INDEX) {
      throw new LimitExceeded("this segment is exhausted; wait for the next month");
    }
    const nonce = rng(24);
    const header = encodeHeader({
      pairingId: this.pairingId, epoch: send.segmentEpoch, direction: this.ownDirection,
      chainId: send.ratchetPublic, chainEpoch: send.chainEpoch, index,
      prevEpoch: send.prevEpoch, prevLen: send.prevLen, nonce,
    });
    const inner = seal(header, contentType, body, now.getTime(),
      (m) => ed25519Sign(signer, m), LABEL_V3);
    const sealed = xchachaEncrypt(mk, nonce, inner, header);
    wipe(mk);
    const token = encodeToken(encodeMessage(header, send.deposit, sealed));
    wipe(send.chainKey);
    send.chainKey = ck;
    send.nextIndex = index + 1;
    if (send.nextIndex >= DEPOSIT_REPEATS) {
      send.deposit = null;
    }
    return token;
  }

  private newSendChain(month: number, rng: Rng): SendChain {
    const old = this.send;
    const priv = rng(32);
    const pub = x25519Public(priv);
    const dh = x25519Shared(priv, this.peerRatchet);
    const [root, chainKey, monthSeed] = rootStep(this.root, dh);
    wipe(dh);
    const epoch = old === null ? month
      : Math.max(month, old.segmentEpoch ?? 0, old.chainEpoch);
    const chain = new SendChain(priv, pub, epoch, chainKey, monthSeed, epoch + 1);
    if (old !== null) {
      chain.segmentEpoch = old.segmentEpoch;
      chain.nextIndex = old.nextIndex;
      chain.prevEpoch = old.prevEpoch;
      chain.prevLen = old.prevLen;
      old.wipe();
    }
    wipe(this.root);
    this.root = root;
    this.send = chain;
    this.needNewChain = false;
    this.newSegment(chain, epoch, rng);
    return chain;
  }

  private newSegment(send: SendChain, epoch: number, rng: Rng): void {
    if (send.segmentEpoch !== null && send.nextIndex > 0) {
      send.prevEpoch = send.segmentEpoch;
      send.prevLen = send.nextIndex;
    }
    let seed: Uint8Array;
    if (epoch === send.chainEpoch && send.firstSeed !== null) {
      seed = send.firstSeed.slice();
      wipe(send.firstSeed);
      send.firstSeed = null;
    } else {
      const monthSeed = walk(send.seed, send.seedMonth, epoch, advanceMonthSeed);
      seed = segmentSeed(monthSeed, epoch);
      const next = advanceMonthSeed(monthSeed, epoch + 1);
      wipe(monthSeed);
      wipe(send.seed);
      send.seed = next;
      send.seedMonth = epoch + 1;
    }
    const chainKey = segmentKey(seed, this.monthRootAt(epoch), this.pairingId,
      this.ownDirection, send.ratchetPublic, epoch);
    wipe(seed);
    wipe(send.chainKey);
    send.chainKey = chainKey;
    send.segmentEpoch = epoch;
    send.nextIndex = 0;
    send.deposit = null;
    const signer = this.signer;
    if (this.escrowPublic !== null && signer !== null) {
      send.deposit = makeDeposit(this.escrowPublic, (m) => ed25519Sign(signer, m), {
        pairingId: this.pairingId, transcriptHash: this.transcriptHash, epoch,
        direction: this.ownDirection, chainId: send.ratchetPublic, startIndex: 0,
        chainKey,
      }, rng);
    }
  }

  // ------------------------------------------------------------------ receiving

  async decrypt(tokenText: string, now: Date): Promise<Opened> {
    // Asked for first: a cached key is a resolved Promise; a new one imports while the
    // token is parsed, planned and opened.
    const signer = peerVerifier(this.peerIdentity);
    this.shredDue(now);
    const token = parseMessage(decodeToken(tokenText));
    const h = token.header;
    if (!constantTimeEqual(h.pairingId, this.pairingId)) {
      throw new WrongPairing("token belongs to another pairing");
    }
    if (h.direction !== this.peerDirection) {
      throw new WrongPairing("token travels in this side's own direction (reflected)");
    }
    this.checkEpoch(h.epoch, now);
    if (h.chainEpoch < this.startEpoch) {
      throw new WrongPairing("token's chain precedes this pairing");
    }
    const plan = this.plan(h);
    const inner = xchachaDecrypt(plan.messageKey, h.nonce, token.body, h.raw);
    const envelope = await openWith(h.raw, inner, await signer, LABEL_V3);
    this.commit(plan, h.chainId);
    return { contentType: envelope.contentType, body: envelope.body, sentAtMs: envelope.sentAtMs,
      epoch: h.epoch, chainId: h.chainId, index: h.index };
  }

  private find(chainId: Uint8Array): number | null {
    const i = this.recv.findIndex((c) => same(c.chainId, chainId));
    return i < 0 ? null : i;
  }

  private plan(h: MessageHeaderV3): Plan {
    const position = this.find(h.chainId);
    const newSegments = new Map<number, Uint8Array>();
    let newRoot: Uint8Array | null = null;
    let chain: RecvChain;
    let prevChain: RecvChain | null;
    if (position === null) {
      [chain, newRoot] = this.planNewChain(h, newSegments);
      prevChain = this.recv.length ? (this.recv[this.recv.length - 1] as RecvChain) : null;
    } else {
      chain = this.recv[position] as RecvChain;
      if (chain.chainEpoch !== h.chainEpoch) {
        throw new EpochMismatch("token's chain epoch differs from its chain's");
      }
      prevChain = position > 0 ? (this.recv[position - 1] as RecvChain) : null;
    }
    if (h.epoch > h.chainEpoch) {
      prevChain = chain;
    }
    const segment = chain.segments.get(h.epoch) ?? null;
    let newSeed: [Uint8Array, number] | null = null;
    if (segment === null && !newSegments.has(h.epoch)) {
      newSeed = this.planWalk(chain, h, newSegments);
    }
    const plan: Plan = {
      chain, newChain: position === null, newRoot, newSegments, newSeed, epoch: h.epoch,
      index: h.index, messageKey: new Uint8Array(0), targetNextKey: null, targetSkipped: [],
      prev: null, prevEpoch: 0, prevChain: null, prevSkipped: [],
    };
    let gap = planTarget(plan, segment, newSegments.get(h.epoch) ?? null);
    if (h.prevLen && prevChain !== null) {
      gap += planPrev(plan, prevChain, h, newSegments);
    }
    if (gap > MAX_SKIP) {
      throw new LimitExceeded(`token skips ${gap} message keys (limit ${MAX_SKIP})`);
    }
    return plan;
  }

  private planNewChain(h: MessageHeaderV3, newSegments: Map<number, Uint8Array>): [RecvChain, Uint8Array] {
    const send = this.send;
    if (send === null || this.needNewChain) {
      throw new DecryptionFailed();
    }
    const dh = x25519Shared(send.ratchetPrivate, h.chainId);
    const [root, chainKey, monthSeed] = rootStep(this.root, dh);
    wipe(dh);
    const chain = new RecvChain(h.chainId, h.chainEpoch, monthSeed, h.chainEpoch + 1);
    if (h.chainEpoch >= this.monthRootEpoch) {
      newSegments.set(h.chainEpoch, segmentKey(chainKey, this.monthRootAt(h.chainEpoch),
        this.pairingId, this.peerDirection, h.chainId, h.chainEpoch));
    }
    wipe(chainKey);
    return [chain, root];
  }

  private planWalk(chain: RecvChain, h: MessageHeaderV3,
    newSegments: Map<number, Uint8Array>): [Uint8Array, number] {
    if (h.epoch < chain.seedMonth) {
      throw new ReplayDetected(`the keys of ${formatEpoch(h.epoch)} on this chain are gone `
        + "(the message was already read, or its segment was passed)");
    }
    if (h.epoch - chain.seedMonth > MAX_MONTH_WALK) {
      throw new LimitExceeded("token's month is too far from its chain's");
    }
    const gapFrom = h.prevLen ? h.prevEpoch + 1 : h.epoch;
    let monthSeed: Uint8Array = chain.seed.slice();
    for (let month = chain.seedMonth; month <= h.epoch; month += 1) {
      if (month > chain.seedMonth) {
        const next = advanceMonthSeed(monthSeed, month);
        wipe(monthSeed);
        monthSeed = next;
      }
      const wanted = month === h.epoch || month < gapFrom;
      if (wanted && month >= this.monthRootEpoch) {
        newSegments.set(month, segmentKey(segmentSeed(monthSeed, month), this.monthRootAt(month),
          this.pairingId, this.peerDirection, chain.chainId, month));
      }
    }
    const out = advanceMonthSeed(monthSeed, h.epoch + 1);
    wipe(monthSeed);
    return [out, h.epoch + 1];
  }

  private commit(plan: Plan, chainId: Uint8Array): void {
    const chain = plan.chain;
    if (plan.newChain) {
      this.recv.push(chain);
      wipe(this.root);
      this.root = plan.newRoot as Uint8Array;
      this.peerRatchet = chainId;
      this.needNewChain = true;
      while (this.recv.length > MAX_RECV_CHAINS) {
        (this.recv.shift() as RecvChain).wipe();
      }
    }
    for (const [month, key] of plan.newSegments) {
      chain.segments.set(month, new RecvSegment(key));
    }
    if (plan.newSeed !== null) {
      wipe(chain.seed);
      chain.seed = plan.newSeed[0];
      chain.seedMonth = plan.newSeed[1];
    }
    if (plan.prevChain !== null) {
      let prev = plan.prevChain.segments.get(plan.prevEpoch);
      if (prev === undefined) {
        prev = new RecvSegment(null);
        plan.prevChain.segments.set(plan.prevEpoch, prev);
      }
      for (const [i, k] of plan.prevSkipped) {
        prev.skipped.set(i, k);
      }
      wipe(prev.chainKey);
      prev.chainKey = null;
      const last = plan.prevSkipped[plan.prevSkipped.length - 1];
      if (last !== undefined) {
        prev.nextIndex = Math.max(prev.nextIndex, last[0] + 1);
      }
    }
    const segment = chain.segments.get(plan.epoch) as RecvSegment;
    if (plan.targetNextKey === null) {
      segment.skipped.delete(plan.index);
    } else {
      for (const [i, k] of plan.targetSkipped) {
        segment.skipped.set(i, k);
      }
      wipe(segment.chainKey);
      segment.chainKey = plan.targetNextKey;
      segment.nextIndex = plan.index + 1;
    }
    if (plan.newChain || plan.targetSkipped.length > 0 || plan.prevChain !== null) {
      this.dropClosed();
      this.boundSkipped(chain);
    } else if (plan.targetNextKey === null && segment.skipped.size === 0 && segment.chainKey === null) {
      this.dropClosed();
    }
  }

  private dropClosed(): void {
    for (const chain of this.recv) {
      for (const [month, s] of [...chain.segments.entries()]) {
        if (s.chainKey === null && s.skipped.size === 0) {
          chain.segments.delete(month);
        }
      }
    }
  }

  private boundSkipped(chain: RecvChain): void {
    let excess = chain.skippedCount() - MAX_SKIPPED_PER_CHAIN;
    if (excess > 0) {
      dropOldest([chain], excess);
    }
    excess = this.recv.reduce((n, c) => n + c.skippedCount(), 0) - MAX_SKIPPED_PER_PAIRING;
    if (excess > 0) {
      dropOldest(this.recv, excess);
    }
  }
}

function planTarget(plan: Plan, segment: RecvSegment | null, fresh: Uint8Array | null): number {
  if (segment === null) {
    if (fresh === null) {
      throw new StorageError("session state is damaged");
    }
    if (plan.index > MAX_SKIP) {
      throw new LimitExceeded(`token skips ${plan.index} message keys (limit ${MAX_SKIP})`);
    }
    const [skipped, ck] = derive(fresh, 0, plan.index);
    [plan.messageKey, plan.targetNextKey] = chainStep(ck);
    plan.targetSkipped = skipped;
    return plan.index;
  }
  if (plan.index < segment.nextIndex || segment.chainKey === null) {
    const key = segment.skipped.get(plan.index);
    if (key === undefined) {
      throw new ReplayDetected(`message ${plan.index} was already opened or is too old`);
    }
    plan.messageKey = key;
    return 0;
  }
  const gap = plan.index - segment.nextIndex;
  if (gap === 0) {
    [plan.messageKey, plan.targetNextKey] = chainStep(segment.chainKey);
    return 0;
  }
  if (gap > MAX_SKIP) {
    throw new LimitExceeded(`token skips ${gap} message keys (limit ${MAX_SKIP})`);
  }
  const [skipped, ck] = derive(segment.chainKey, segment.nextIndex, plan.index);
  [plan.messageKey, plan.targetNextKey] = chainStep(ck);
  plan.targetSkipped = skipped;
  return gap;
}

function planPrev(plan: Plan, prevChain: RecvChain, h: MessageHeaderV3,
  newSegments: Map<number, Uint8Array>): number {
  const prev = prevChain.segments.get(h.prevEpoch) ?? null;
  const fresh = newSegments.get(h.prevEpoch);
  if (prevChain === plan.chain && prev === null && fresh !== undefined) {
    if (h.prevLen > MAX_SKIP) {
      throw new LimitExceeded("previous segment is longer than a token may skip");
    }
    [plan.prevSkipped] = derive(fresh, 0, h.prevLen);
    wipe(fresh);
    newSegments.delete(h.prevEpoch);
    plan.prevEpoch = h.prevEpoch;
    plan.prevChain = prevChain;
    return h.prevLen;
  }
  if (prev === null || prev.chainKey === null) {
    return 0;
  }
  plan.prev = prev;
  plan.prevEpoch = h.prevEpoch;
  plan.prevChain = prevChain;
  if (h.prevLen <= prev.nextIndex) {
    return 0;
  }
  const gap = h.prevLen - prev.nextIndex;
  if (gap > MAX_SKIP) {
    throw new LimitExceeded("previous segment is longer than a token may skip");
  }
  [plan.prevSkipped] = derive(prev.chainKey, prev.nextIndex, h.prevLen);
  return gap;
}

function dropOldest(chains: RecvChain[], count: number): void {
  let left = count;
  for (const c of chains) {
    for (const month of [...c.segments.keys()].sort((a, b) => a - b)) {
      const segment = c.segments.get(month) as RecvSegment;
      for (const index of [...segment.skipped.keys()].sort((a, b) => a - b)) {
        if (left === 0) {
          return;
        }
        wipe(segment.skipped.get(index));
        segment.skipped.delete(index);
        left -= 1;
      }
    }
  }
}

// ====================================================================== public, pure API

/** The canonical bytes of a session document (§28), as the Python companion writes them. */
export function sessionDocumentText(state: SessionDocument): string {
  return canonicalJson(state as Json);
}

/**
 * The session documents at pairing end (§22 hand-over). Wipes `secrets.rootKey` and this
 * side's ratchet private key, as Python's `Session.from_pairing` does.
 */
export function fromPairing(s: PairingSecrets): SessionDocument {
  if (s.graceDays < 0 || s.graceDays > MAX_GRACE_DAYS || s.startEpoch < 0 || s.startEpoch >= MAX_EPOCH) {
    throw new WrongPairing("pairing policy is out of range");
  }
  const patient = s.role === "patient";
  const priv = patient ? s.patientRatchetPrivate : s.physicianRatchetPrivate;
  const other = patient ? s.physicianRatchetPrivate : s.patientRatchetPrivate;
  if (priv === null || priv.length !== 32 || other !== null) {
    throw new StorageError("pairing secrets must hold this side's ratchet key only");
  }
  const peer = patient ? s.physicianRatchetPublic : s.patientRatchetPublic;
  try {
    const dh = x25519Shared(priv, peer);
    const monthRoot = initialMonthRoot(s.rootKey, s.pairingId, s.startEpoch);
    const [root, chainKey, monthSeed] = rootStep(s.rootKey, dh);
    const own = ed25519KeyPair(s.ownIdentityPrivate);
    wipe(own.secretKey);
    const state: SessionDocument = {
      format: STATE_FORMAT, role: s.role, pairing_id: b64e(s.pairingId),
      transcript_hash: b64e(s.transcriptHash), own_identity: b64e(own.publicKey),
      peer_identity: b64e(s.peerIdentityPublic),
      escrow_public: s.escrowPublic === null ? null : b64e(s.escrowPublic),
      start_epoch: s.startEpoch, grace_days: s.graceDays, root_key: b64e(root),
      month_root: b64e(monthRoot), month_root_epoch: s.startEpoch, shredded: {},
      peer_ratchet: b64e(peer), need_new_chain: !patient, send: null, recv: [],
    };
    if (patient) {
      state.send = new SendChain(priv.slice(), s.patientRatchetPublic, s.startEpoch, chainKey,
        monthSeed, s.startEpoch + 1).export();
    } else {
      const first = segmentKey(chainKey, monthRoot, s.pairingId, 0, s.patientRatchetPublic,
        s.startEpoch);
      state.recv = [new RecvChain(s.patientRatchetPublic, s.startEpoch, monthSeed,
        s.startEpoch + 1, new Map([[s.startEpoch, new RecvSegment(first)]])).export()];
    }
    for (const b of [dh, monthRoot, root, chainKey, monthSeed]) {
      wipe(b);
    }
    // Round-trip through the loader: the document we hand out is one it accepts.
    Core.load(state);
    return state;
  } finally {
    wipe(s.rootKey);
    wipe(priv);
  }
}

export interface Clocked {
  now: Date;
}

/** Shred every month whose grace ended (§29); call at every unlock before anything else. */
export function shredDue(state: SessionDocument, now: Date): { state: SessionDocument; shredded: number[] } {
  const core = Core.load(state);
  try {
    const shredded = core.shredDue(now);
    return { state: core.export(), shredded };
  } finally {
    core.wipe();
  }
}

/** Seal `body` for the peer; returns the new state and one token text. */
export function encrypt(state: SessionDocument, identitySeed: Uint8Array, body: Uint8Array,
  opts: { now: Date; rng?: Rng; contentType?: ContentType }): { state: SessionDocument; token: string } {
  const core = Core.load(state).withIdentity(identitySeed);
  try {
    const token = core.encrypt(body, opts.contentType ?? 1, opts.now, opts.rng ?? osRng);
    return { state: core.export(), token };
  } finally {
    core.wipe();
  }
}

/**
 * Open a peer's MESSAGE token; the new state differs only if it verified completely.
 * Asynchronous because the envelope signature may be checked by WebCrypto (ADR 0044);
 * the function stays pure, so awaiting it lets nothing else touch the state.
 */
export async function decrypt(state: SessionDocument, tokenText: string,
  opts: Clocked): Promise<{ state: SessionDocument; opened: Opened }> {
  const core = Core.load(state);
  try {
    const opened = await core.decrypt(tokenText, opts.now);
    return { state: core.export(), opened };
  } finally {
    core.wipe();
  }
}

/** Public facts about a session for the app's thread header (no secret). */
export function describe(state: SessionDocument): {
  role: Role; pairingId: Uint8Array; peerIdentity: Uint8Array; startEpoch: number;
  graceDays: number; shredded: Map<number, string>; monthRootEpoch: number;
} {
  const core = Core.load(state);
  try {
    return { role: core.role, pairingId: core.pairingId, peerIdentity: core.peerIdentity,
      startEpoch: core.startEpoch, graceDays: core.graceDays, shredded: new Map(core.shredded),
      monthRootEpoch: core.monthRootEpoch };
  } finally {
    core.wipe();
  }
}

export { int as stateInt };
