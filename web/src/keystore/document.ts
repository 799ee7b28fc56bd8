/**
 * The web keystore's document: what is inside the seal, and the one rule the keystore
 * itself enforces on it - a restored pairing cannot run its ratchet.
 *
 *   { "format": "medcrypt-web/1",
 *     "pairings": { "<pairing id hex>": { "session": <medcrypt-session/3 state> | null,
 *                                          "needs_repair": {...} (restored only),
 *                                          "pinned": {...} (restored only), ...app members } },
 *     "exported_pairings": [ "<pairing id hex>", ... ],   -- as of the last export
 *     "last_export_at": iso | null,
 *     ...app members (identity, offers, history, labels: the app's, as in PROTOCOL §15) }
 *
 * Why a restore drops the ratchet: an export is a snapshot, and the pairing's chains
 * have moved on since - restoring them would reuse message keys the peer has seen and
 * accept tokens already read (a rollback). So `markRestored` keeps what identifies the
 * peer (the pinned identity key, the label, the verified fingerprint the app stored) and
 * removes the session itself; `sessionOf` refuses such a pairing with
 * `keystore_pairing_needs_repair` until a re-pair or an authenticated reset gives it a
 * new session (`withNewSession`).
 */

import type { Json } from "./canonical-json.js";
import { KeystoreError } from "./errors.js";

export const DOCUMENT_FORMAT = "medcrypt-web/1";

export type JsonObject = { [key: string]: Json };
export type PairingRecord = JsonObject;
export type KeystoreDocument = JsonObject & {
  format: string;
  pairings: { [pairingId: string]: PairingRecord };
};

function isObject(v: Json | undefined): v is JsonObject {
  return v !== null && v !== undefined && typeof v === "object" && !Array.isArray(v);
}

/** A new document: the app's own members plus the keystore's. */
export function newDocument(app: JsonObject = {}): KeystoreDocument {
  return { pairings: {}, exported_pairings: [], last_export_at: null, ...app, format: DOCUMENT_FORMAT };
}

/** `value` as a document, or null when it is not one this code can hold. */
export function asDocument(value: JsonObject): KeystoreDocument | null {
  if (value["format"] !== DOCUMENT_FORMAT) return null;
  const pairings = value["pairings"];
  if (!isObject(pairings) || !Object.values(pairings).every((p) => isObject(p))) return null;
  return value as KeystoreDocument;
}

/** The pairing's record, or `keystore_unknown_pairing`. */
export function pairingOf(doc: KeystoreDocument, pairingId: string): PairingRecord {
  const rec = Object.hasOwn(doc.pairings, pairingId) ? doc.pairings[pairingId] : undefined;
  if (rec === undefined) throw new KeystoreError("keystore_unknown_pairing");
  return rec;
}

/** Whether a pairing was restored and not yet re-paired or reset. */
export function needsRepair(doc: KeystoreDocument, pairingId: string): boolean {
  const rec = pairingOf(doc, pairingId);
  return isObject(rec["needs_repair"]) || rec["session"] === null || rec["session"] === undefined;
}

/** The pairing's ratchet state, refused for a restored pairing. */
export function sessionOf(doc: KeystoreDocument, pairingId: string): Json {
  if (needsRepair(doc, pairingId)) throw new KeystoreError("keystore_pairing_needs_repair");
  return pairingOf(doc, pairingId)["session"] as Json;
}

/** A copy of `doc` where `pairingId` runs on `session` (new pairing, re-pair or reset). */
export function withNewSession(doc: KeystoreDocument, pairingId: string, session: Json): KeystoreDocument {
  if (session === null) throw new TypeError("a pairing's session cannot be null");
  const prev = Object.hasOwn(doc.pairings, pairingId) ? doc.pairings[pairingId] : undefined;
  const rec: PairingRecord = { ...(prev ?? {}), session };
  delete rec["needs_repair"];
  delete rec["pinned"];
  return { ...doc, pairings: { ...doc.pairings, [pairingId]: rec } };
}

/** A copy of `doc` with `session` as the pairing's new ratchet state (refused if restored). */
export function withSession(doc: KeystoreDocument, pairingId: string, session: Json): KeystoreDocument {
  sessionOf(doc, pairingId);
  return withNewSession(doc, pairingId, session);
}

function pinnedOf(session: Json | undefined): JsonObject {
  const pinned: JsonObject = {};
  if (isObject(session)) {
    for (const key of ["pairing_id", "role", "own_identity", "peer_identity", "transcript_hash"]) {
      const v = session[key];
      if (typeof v === "string") pinned[key] = v;
    }
  }
  return pinned;
}

/** The document a restore installs: every pairing's ratchet dropped and marked. */
export function markRestored(doc: KeystoreDocument, exportedAt: string, restoredAt: string): KeystoreDocument {
  const pairings: { [id: string]: PairingRecord } = {};
  for (const [id, rec] of Object.entries(doc.pairings)) {
    const wasMarked = isObject(rec["needs_repair"]);
    pairings[id] = {
      ...rec,
      session: null,
      pinned: wasMarked && isObject(rec["pinned"]) ? rec["pinned"] : pinnedOf(rec["session"]),
      needs_repair: { reason: "restored", exported_at: exportedAt, restored_at: restoredAt },
    };
  }
  return { ...doc, pairings };
}

/** Pairings added since the last export (the app prompts for a new export when any). */
export function pairingsNotExported(doc: KeystoreDocument): string[] {
  const exported = new Set(Array.isArray(doc["exported_pairings"])
    ? doc["exported_pairings"].filter((x): x is string => typeof x === "string") : []);
  return Object.keys(doc.pairings).filter((id) => !exported.has(id)).sort();
}
