/**
 * The web keystore: one per browser profile and origin, in IndexedDB, sealed twice -
 * under the passphrase (the CLI's format, sealing.ts) and then under this browser's
 * non-extractable AES-GCM key (device-key.ts) - and held by one tab at a time
 * (tab-lock.ts). Rationale: docs/adr/0030-web-keystore.md.
 *
 * Commit before show: `transact(fn)` hands `fn` a copy of the document, seals and writes
 * what `fn` returns, awaits the IndexedDB transaction's durable completion, and only
 * then returns `fn`'s output. If anything fails on the way, the output is dropped and
 * the state in memory and on disk is the old one. A caller that shows (or shares) a
 * token only after `transact` returned can never show a token whose ratchet step is not
 * on disk, so a crash cannot make the same step produce it twice.
 *
 * On `lock()` (or a lost tab lock) the derived key is zeroed and the document dropped.
 * JavaScript cannot zero strings, so the document's base64 secrets are left to the
 * garbage collector; byte buffers this module made are wiped.
 */

import { ready, wipe } from "../crypto/primitives.js";
import { canonicalJsonBytes, parseObject } from "./canonical-json.js";
import { createDeviceKey, unwrap, wrap } from "./device-key.js";
import {
  asDocument, markRestored, needsRepair, newDocument, pairingsNotExported, sessionOf,
  withNewSession, type JsonObject, type KeystoreDocument, type PairingRecord,
} from "./document.js";
import { KeystoreError } from "./errors.js";
import { openExport, sealExport } from "./export-file.js";
import { get, openDatabase, putAll, type MetaRecord, type RecordKey, type SealedRecord } from "./idb.js";
import { requestPersistence, type StorageReport } from "./persistence.js";
import { MAGIC_KEYSTORE, PROFILE, raisedTo, SealingKey, weakerThan, type Argon2Profile } from "./sealing.js";
import { canonicalOf, generatedLanguage, GENERATED_FORM, requireGenerated } from "./passphrase.js";
import { acquireTabLock, type TabLock } from "./tab-lock.js";
import type { Json } from "./canonical-json.js";

export interface KeystoreOptions {
  /** Argon2id cost for new seals and the floor an unlock raises to (default: the CLI's). */
  readonly profile?: Argon2Profile;
  /** Clock for the timestamps the keystore writes (injected, as everywhere in the protocol). */
  readonly now?: () => Date;
}

export interface CreateOptions extends KeystoreOptions {
  /** Overwrite a keystore that exists in this browser (the app asks the user first). */
  readonly replace?: boolean;
}

export interface Created {
  readonly store: Keystore;
  readonly storage: StorageReport;
}

export interface Restored {
  readonly store: Keystore;
  readonly storage: StorageReport;
  /** Every pairing in the export: each needs a re-pair or an authenticated reset. */
  readonly needRepair: readonly string[];
  readonly exportedAt: string;
}

export interface TransactResult<T> {
  readonly doc: KeystoreDocument;
  readonly output: T;
}

type Clock = () => Date;

const systemClock: Clock = () => new Date();

function clone<T>(value: T): T {
  return structuredClone(value);
}

export class Keystore {
  #db: IDBDatabase | null;
  #deviceKey: CryptoKey | null;
  #key: SealingKey | null;
  #doc: KeystoreDocument | null;
  #lock: TabLock;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #now: Clock;

  private constructor(db: IDBDatabase, deviceKey: CryptoKey, key: SealingKey, doc: KeystoreDocument,
    lock: TabLock, now: Clock) {
    this.#db = db;
    this.#deviceKey = deviceKey;
    this.#key = key;
    this.#doc = doc;
    this.#lock = lock;
    this.#now = now;
  }

  /** Whether this browser profile holds a keystore for this origin (reads no secret). */
  static async exists(): Promise<boolean> {
    const db = await openDatabase();
    try {
      return (await get<SealedRecord>(db, "keystore")) !== undefined;
    } finally {
      db.close();
    }
  }

  /**
   * Set up a new keystore under a generated passphrase (`generatePassphrase(...).canonical`;
   * anything else is `keystore_weak_passphrase`, ADR 0042), ask for persistent storage,
   * make this browser's key, seal the first document and write it all at once.
   * `storage` tells the app what to warn about (persistence.ts).
   */
  static async create(passphrase: string, app: JsonObject = {}, opts: CreateOptions = {}): Promise<Created> {
    await requireGenerated(passphrase);
    const now = opts.now ?? systemClock;
    const doc = newDocument(app);
    return Keystore.#install(doc, passphrase, GENERATED_FORM, opts, now);
  }

  /**
   * Open the keystore with `passphrase`: take the tab lock first (a second tab fails
   * here, before reading anything), then unwrap with the browser's key and open the seal.
   * A wrong passphrase is `keystore_wrong_passphrase` and writes nothing. A record sealed
   * under a weaker Argon2id cost than `opts.profile` is re-sealed (fresh salt) first.
   * A keystore set up with a generated passphrase takes it typed with any case, accents
   * and spacing (`canonicalOf`); any other (restored from a chosen one) exactly as typed.
   */
  static async unlock(typed: string, opts: KeystoreOptions = {}): Promise<Keystore> {
    await ready();
    const target = opts.profile ?? PROFILE;
    let store: Keystore | null = null;
    const lock = await acquireTabLock(() => store?.lock());
    let db: IDBDatabase | null = null;
    let key: SealingKey | null = null;
    try {
      db = await openDatabase();
      const record = await get<SealedRecord>(db, "keystore");
      if (record === undefined) throw new KeystoreError("keystore_not_found");
      const deviceKey = await get<CryptoKey>(db, "device-key");
      if (deviceKey === undefined) throw new KeystoreError("keystore_device_key_missing");
      if (!(record.sealed instanceof Uint8Array)) throw new KeystoreError("keystore_damaged");
      const meta = await get<MetaRecord>(db, "meta");
      const passphrase = meta?.passphrase_form === GENERATED_FORM ? canonicalOf(typed) : typed;
      const inner = await unwrap(deviceKey, record.sealed);
      const opened = SealingKey.unlock(MAGIC_KEYSTORE, passphrase, inner);
      key = opened.key;
      const parsed = parseObject(opened.padded);
      wipe(opened.padded);
      const doc = parsed === null ? null : asDocument(parsed);
      if (doc === null) throw new KeystoreError("keystore_damaged", "authentic, but not a web keystore document");
      store = new Keystore(db, deviceKey, key, doc, lock, opts.now ?? systemClock);
      if (weakerThan(key.profile, target)) {
        await store.#reseal(passphrase, raisedTo(key.profile, target));
      }
      return store;
    } catch (e) {
      if (store !== null) store.lock();
      else {
        key?.wipe();
        db?.close();
        lock.release();
      }
      throw e;
    }
  }

  /**
   * Restore an export into this browser (a new device key, the export's passphrase).
   * Every pairing in it comes back needing a re-pair or an authenticated reset: its
   * ratchet would otherwise roll back (document.ts). No strength rule here: an export
   * opens with the passphrase it was sealed under. When what was typed folds to a
   * generated passphrase, that form is tried first (an export made at setup), then the
   * text as typed (an older export under a chosen passphrase).
   */
  static async restore(bytes: Uint8Array, typed: string, opts: CreateOptions = {}): Promise<Restored> {
    await ready();
    const now = opts.now ?? systemClock;
    const canonical = canonicalOf(typed);
    const generated = canonical !== typed && (await generatedLanguage(canonical)) !== null;
    let passphrase = generated ? canonical : typed;
    let opened;
    try {
      opened = openExport(bytes, passphrase);
    } catch (e) {
      if (!generated || !(e instanceof KeystoreError) || e.code !== "keystore_wrong_passphrase") throw e;
      passphrase = typed;
      opened = openExport(bytes, passphrase);
    }
    const form = (await generatedLanguage(passphrase)) !== null ? GENERATED_FORM : null;
    const doc = markRestored(opened.document, opened.exportedAt, now().toISOString());
    const { store, storage } = await Keystore.#install(doc, passphrase, form, opts, now);
    return { store, storage, needRepair: Object.keys(doc.pairings).sort(), exportedAt: opened.exportedAt };
  }

  static async #install(doc: KeystoreDocument, passphrase: string, form: typeof GENERATED_FORM | null,
    opts: CreateOptions, now: Clock): Promise<{ store: Keystore; storage: StorageReport }> {
    await ready();
    let store: Keystore | null = null;
    const lock = await acquireTabLock(() => store?.lock());
    let db: IDBDatabase | null = null;
    let key: SealingKey | null = null;
    try {
      db = await openDatabase();
      if (opts.replace !== true && (await get<SealedRecord>(db, "keystore")) !== undefined) {
        throw new KeystoreError("keystore_exists");
      }
      const storage = await requestPersistence();
      const deviceKey = await createDeviceKey();
      key = SealingKey.create(MAGIC_KEYSTORE, passphrase, opts.profile ?? PROFILE);
      store = new Keystore(db, deviceKey, key, doc, lock, now);
      const meta: MetaRecord = {
        created_at: now().toISOString(), last_export_at: null, persist_granted: storage.persistGranted,
        ...(form === null ? {} : { passphrase_form: form }),
      };
      await store.#write(doc, [["device-key", deviceKey], ["meta", meta]]);
      return { store, storage };
    } catch (e) {
      if (store !== null) store.lock();
      else {
        key?.wipe();
        db?.close();
        lock.release();
      }
      throw e;
    }
  }

  /** False after `lock()` or a lost tab lock. */
  get unlocked(): boolean {
    return this.#doc !== null && this.#lock.held;
  }

  /** A copy of the current document (changes go through `transact`). */
  get document(): KeystoreDocument {
    return clone(this.#open().doc);
  }

  /**
   * Change the document and get an output, committed before it is returned (see the
   * module comment). Calls run one at a time in the order made.
   */
  transact<T>(fn: (doc: KeystoreDocument) => Promise<TransactResult<T>> | TransactResult<T>): Promise<T> {
    return this.#serial(async () => {
      const result = await fn(clone(this.#open().doc));
      const doc = asDocument(result.doc);
      if (doc === null) throw new KeystoreError("keystore_write_failed", "fn returned no keystore document");
      await this.#write(doc);
      return result.output;
    });
  }

  /**
   * One pairing's ratchet step: `fn` gets the pairing's session state and returns the
   * new state and the output (a token, a plaintext), committed before it is returned.
   * A restored pairing is refused with `keystore_pairing_needs_repair`: nothing can
   * encrypt or decrypt on it until `installSession` gives it a new session.
   */
  transactPairing<T>(pairingId: string,
    fn: (session: Json, record: Readonly<PairingRecord>) => Promise<{ session: Json; output: T }> | { session: Json; output: T }):
    Promise<T> {
    return this.transact(async (doc) => {
      const session = sessionOf(doc, pairingId);
      const out = await fn(session, doc.pairings[pairingId] as PairingRecord);
      const pairings = { ...doc.pairings, [pairingId]: { ...doc.pairings[pairingId], session: out.session } };
      return { doc: { ...doc, pairings }, output: out.output };
    });
  }

  /** Give a pairing a session: a new pairing, a re-pair or an authenticated reset. */
  installSession(pairingId: string, session: Json, record: JsonObject = {}): Promise<void> {
    return this.transact((doc) => {
      const base = Object.hasOwn(doc.pairings, pairingId) ? doc.pairings[pairingId] : {};
      const withRecord = { ...doc, pairings: { ...doc.pairings, [pairingId]: { ...base, ...record } } };
      return { doc: withNewSession(withRecord, pairingId, session), output: undefined };
    });
  }

  /** Whether a pairing waits for a re-pair or reset (restored). */
  needsRepair(pairingId: string): boolean {
    return needsRepair(this.#open().doc, pairingId);
  }

  /** Pairings added since the last export: the app asks for a new export when any. */
  exportDue(): string[] {
    return pairingsNotExported(this.#open().doc);
  }

  /**
   * The export file's bytes, sealed under `passphrase` (a generated one, as for setup:
   * the app passes the keystore's own, ADR 0042).
   * The document records the export (which pairings it holds) in the same commit,
   * before the bytes are returned.
   */
  async exportSealed(passphrase: string, opts: { profile?: Argon2Profile } = {}): Promise<Uint8Array> {
    await requireGenerated(passphrase);
    return this.#serial(async () => {
      const at = this.#now().toISOString();
      const current = this.#open().doc;
      const doc: KeystoreDocument = {
        ...clone(current), exported_pairings: Object.keys(current.pairings).sort(), last_export_at: at,
      };
      const bytes = sealExport(doc, passphrase, at, opts.profile ?? this.#key?.profile ?? PROFILE);
      const meta = await get<MetaRecord>(this.#open().db, "meta");
      await this.#write(doc, [["meta", { ...(meta ?? { created_at: at, persist_granted: null }), last_export_at: at }]]);
      return bytes;
    });
  }

  /** Zero the key, drop the document, close the database and let the tab lock go. */
  lock(): void {
    this.#key?.wipe();
    this.#key = null;
    this.#doc = null;
    this.#deviceKey = null;
    this.#db?.close();
    this.#db = null;
    this.#lock.release();
  }

  #open(): { doc: KeystoreDocument; db: IDBDatabase; key: SealingKey; deviceKey: CryptoKey } {
    if (this.#doc === null || this.#db === null || this.#key === null || this.#deviceKey === null
      || !this.#lock.held) {
      throw new KeystoreError("keystore_closed");
    }
    return { doc: this.#doc, db: this.#db, key: this.#key, deviceKey: this.#deviceKey };
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(op, op);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Seal, wrap and durably write `doc` (with `extra` records in the same transaction). */
  async #write(doc: KeystoreDocument, extra: ReadonlyArray<readonly [RecordKey, unknown]> = []): Promise<void> {
    const { db, key, deviceKey } = this.#open();
    let bytes: Uint8Array;
    try {
      bytes = canonicalJsonBytes(doc);
    } catch {
      throw new KeystoreError("keystore_write_failed", "the document is not canonical JSON");
    }
    try {
      const inner = key.seal(bytes);
      const sealed = await wrap(deviceKey, inner);
      if (!this.#lock.held) throw new KeystoreError("keystore_closed", "the tab lock was lost");
      const record: SealedRecord = { version: 1, sealed };
      await putAll(db, [["keystore", record], ...extra]);
    } catch (e) {
      if (e instanceof KeystoreError && e.code === "keystore_closed") throw e;
      throw new KeystoreError("keystore_write_failed");
    } finally {
      wipe(bytes);
    }
    // Only now, with the write complete, does the new state become the current one
    // (unless the store was locked meanwhile: then there is no current state to keep).
    if (this.#key !== null) this.#doc = clone(doc);
  }

  async #reseal(passphrase: string, profile: Argon2Profile): Promise<void> {
    const fresh = SealingKey.create(MAGIC_KEYSTORE, passphrase, profile);
    const old = this.#key;
    this.#key = fresh;
    try {
      await this.#write(this.#open().doc);
    } catch (e) {
      this.#key = old;
      fresh.wipe();
      throw e;
    }
    old?.wipe();
  }
}
