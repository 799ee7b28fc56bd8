/**
 * The keystore's IndexedDB: one database per origin (so one keystore per browser
 * profile and origin), one object store of three records:
 *
 *   "device-key" -> CryptoKey (non-extractable AES-GCM, device-key.ts)
 *   "keystore"   -> { version: 1, sealed: Uint8Array }   (wrapped, passphrase-sealed)
 *   "meta"       -> { created_at, last_export_at, persist_granted, passphrase_form? }
 *                   (no secrets; passphrase_form "words": sealed under a generated
 *                   passphrase, so unlock folds case and spacing, passphrase.ts)
 *
 * Why so thin a wrapper rather than a library: the keystore needs get, a multi-record
 * put and "await the transaction's `complete`" - the one thing that makes commit-before-
 * show true - and nothing else; writes ask for `durability: "strict"`, so `complete`
 * means flushed, not merely queued. Every write replaces the whole sealed record, as
 * the CLI replaces its whole file: no stale key bytes are kept in older rows by design.
 */

import { KeystoreError } from "./errors.js";

export const DB_NAME = "medcrypt-keystore";
const DB_VERSION = 1;
const STORE = "records";

export type RecordKey = "device-key" | "keystore" | "meta";

export interface SealedRecord {
  readonly version: 1;
  readonly sealed: Uint8Array;
}

export interface MetaRecord {
  readonly created_at: string;
  readonly last_export_at: string | null;
  readonly persist_granted: boolean | null;
  /** "words" when sealed under a generated passphrase (passphrase.ts); absent otherwise. */
  readonly passphrase_form?: "words";
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB request failed"));
  });
}

/** Open (and on first use create) the keystore database. */
export async function openDatabase(): Promise<IDBDatabase> {
  if (typeof indexedDB === "undefined") throw new KeystoreError("keystore_unsupported", "no IndexedDB");
  const req = indexedDB.open(DB_NAME, DB_VERSION);
  req.onupgradeneeded = () => {
    req.result.createObjectStore(STORE);
  };
  try {
    return await request(req);
  } catch {
    throw new KeystoreError("keystore_unsupported", "IndexedDB refused to open");
  }
}

/** Read one record (undefined when absent). */
export async function get<T>(db: IDBDatabase, key: RecordKey): Promise<T | undefined> {
  const tx = db.transaction(STORE, "readonly");
  return (await request(tx.objectStore(STORE).get(key))) as T | undefined;
}

/**
 * Write several records in ONE transaction and resolve only when the transaction has
 * completed durably; reject (nothing written) if any put fails or the transaction aborts.
 */
export function putAll(db: IDBDatabase, records: ReadonlyArray<readonly [RecordKey, unknown]>): Promise<void> {
  return new Promise((resolve, reject) => {
    let tx: IDBTransaction | undefined;
    try {
      tx = db.transaction(STORE, "readwrite", { durability: "strict" });
      const store = tx.objectStore(STORE);
      for (const [key, value] of records) store.put(value, key);
    } catch (e) {
      // A put that throws (a value that cannot be cloned...) must not let the earlier
      // puts of this transaction commit on their own: abort it, all or nothing.
      try { tx?.abort(); } catch { /* already finished: nothing of ours was queued */ }
      reject(e instanceof Error ? e : new Error("IndexedDB write failed"));
      return;
    }
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
    tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
  });
}
