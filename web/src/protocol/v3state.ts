/**
 * The v3 session's data and its `medcrypt-session/3` JSON form (docs/PROTOCOL.md §28,
 * `crypto/endpoint/v3/state.py`). The JSON document is the interface with the keystore
 * and the Python companion: same keys, same types, same canonical bytes. In memory the
 * keys are Uint8Arrays (wipeable) and the maps are Maps keyed by number.
 */

import { StorageError } from "../crypto/errors.js";
import { fromBase64, toBase64, wipe } from "../crypto/primitives.js";
import type { Json } from "./canonical.js";

export const STATE_FORMAT = "medcrypt-session/3";

export type Role = "patient" | "physician";

/** The JSON document (keys exactly as §28 names them). */
export interface SessionDocument {
  [key: string]: Json;
}

export function b64e(data: Uint8Array): string {
  return toBase64(data, "standard");
}

/** Strict padded standard base64 of an exact length; anything else is StorageError. */
export function b64d(value: unknown, length?: number): Uint8Array {
  if (typeof value !== "string") {
    throw new StorageError("session state holds a non-text value where bytes belong");
  }
  let out: Uint8Array;
  try {
    out = fromBase64(value, "standard");
  } catch {
    throw new StorageError("session state holds invalid base64");
  }
  if (length !== undefined && out.length !== length) {
    throw new StorageError("session state holds a value of the wrong length");
  }
  return out;
}

export function int(value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new StorageError("session state holds an invalid number");
  }
  return value;
}

function key(value: Uint8Array | null): string | null {
  return value === null ? null : b64e(value);
}

function loadKey(value: unknown): Uint8Array | null {
  return value === null ? null : b64d(value, 32);
}

export function obj(value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new StorageError("session state is damaged");
  }
  return value as Record<string, unknown>;
}

/** `Object.hasOwn` check that a required field is present (missing != null). */
export function field(o: Record<string, unknown>, name: string): unknown {
  if (!Object.prototype.hasOwnProperty.call(o, name)) {
    throw new StorageError("session state is damaged");
  }
  return o[name];
}

/** A decimal map key ("682") as a number, exactly as Python's `int(str)` round trip. */
function intKey(text: string): number {
  if (!/^(0|[1-9][0-9]*)$/.test(text)) {
    throw new StorageError("session state holds an invalid number");
  }
  return int(Number(text));
}

function sortedEntries<V>(map: Map<number, V>): [number, V][] {
  return [...map.entries()].sort((a, b) => a[0] - b[0]);
}

export class SendChain {
  constructor(
    public ratchetPrivate: Uint8Array,
    public ratchetPublic: Uint8Array,
    public chainEpoch: number,
    public firstSeed: Uint8Array | null,
    public seed: Uint8Array,
    public seedMonth: number,
    public segmentEpoch: number | null = null,
    public chainKey: Uint8Array | null = null,
    public nextIndex = 0,
    public prevEpoch = 0,
    public prevLen = 0,
    public deposit: Uint8Array | null = null,
  ) {}

  export(): SessionDocument {
    return {
      ratchet_private: b64e(this.ratchetPrivate), ratchet_public: b64e(this.ratchetPublic),
      chain_epoch: this.chainEpoch, first_seed: key(this.firstSeed), seed: b64e(this.seed),
      seed_month: this.seedMonth, segment_epoch: this.segmentEpoch,
      chain_key: key(this.chainKey), next_index: this.nextIndex, prev_epoch: this.prevEpoch,
      prev_len: this.prevLen, deposit: this.deposit === null ? null : b64e(this.deposit),
    };
  }

  static load(raw: unknown): SendChain {
    const s = obj(raw);
    const segment = field(s, "segment_epoch");
    const deposit = field(s, "deposit");
    return new SendChain(
      b64d(field(s, "ratchet_private"), 32), b64d(field(s, "ratchet_public"), 32),
      int(field(s, "chain_epoch")), loadKey(field(s, "first_seed")),
      b64d(field(s, "seed"), 32), int(field(s, "seed_month")),
      segment === null ? null : int(segment), loadKey(field(s, "chain_key")),
      int(field(s, "next_index")), int(field(s, "prev_epoch")), int(field(s, "prev_len")),
      deposit === null ? null : b64d(deposit, 234));
  }

  wipe(): void {
    for (const b of [this.ratchetPrivate, this.firstSeed, this.seed, this.chainKey]) {
      wipe(b);
    }
  }
}

export class RecvSegment {
  constructor(
    public chainKey: Uint8Array | null,
    public nextIndex = 0,
    public skipped: Map<number, Uint8Array> = new Map(),
  ) {}

  export(): SessionDocument {
    const skipped: SessionDocument = {};
    for (const [i, k] of sortedEntries(this.skipped)) {
      skipped[String(i)] = b64e(k);
    }
    return { chain_key: key(this.chainKey), next_index: this.nextIndex, skipped };
  }

  static load(raw: unknown): RecvSegment {
    const s = obj(raw);
    const skipped = new Map<number, Uint8Array>();
    for (const [i, k] of Object.entries(obj(field(s, "skipped")))) {
      skipped.set(intKey(i), b64d(k, 32));
    }
    return new RecvSegment(loadKey(field(s, "chain_key")), int(field(s, "next_index")), skipped);
  }

  wipe(): void {
    wipe(this.chainKey);
    this.chainKey = null;
    for (const k of this.skipped.values()) {
      wipe(k);
    }
    this.skipped.clear();
  }
}

export class RecvChain {
  constructor(
    public chainId: Uint8Array,
    public chainEpoch: number,
    public seed: Uint8Array,
    public seedMonth: number,
    public segments: Map<number, RecvSegment> = new Map(),
  ) {}

  skippedCount(): number {
    let n = 0;
    for (const s of this.segments.values()) {
      n += s.skipped.size;
    }
    return n;
  }

  export(): SessionDocument {
    const segments: SessionDocument = {};
    for (const [e, s] of sortedEntries(this.segments)) {
      segments[String(e)] = s.export();
    }
    return { chain_id: b64e(this.chainId), chain_epoch: this.chainEpoch, seed: b64e(this.seed),
      seed_month: this.seedMonth, segments };
  }

  static load(raw: unknown): RecvChain {
    const s = obj(raw);
    const segments = new Map<number, RecvSegment>();
    for (const [e, v] of Object.entries(obj(field(s, "segments")))) {
      segments.set(intKey(e), RecvSegment.load(v));
    }
    return new RecvChain(b64d(field(s, "chain_id"), 32), int(field(s, "chain_epoch")),
      b64d(field(s, "seed"), 32), int(field(s, "seed_month")), segments);
  }

  wipe(): void {
    wipe(this.seed);
    for (const s of this.segments.values()) {
      s.wipe();
    }
    this.segments.clear();
  }
}
