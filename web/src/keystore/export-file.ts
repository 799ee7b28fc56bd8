/**
 * The encrypted export file (docs/PROTOCOL.md §36): the CLI's passphrase seal with the
 * magic `MCKX`, around
 *
 *   { "format": "medcrypt-web-export/1", "exported_at": iso, "document": <keystore document> }
 *
 * Only the passphrase seals it: it must open in another browser, where this browser's
 * non-extractable key does not exist. It is NOT a CLI keystore file (another magic, and
 * another document format): the web app and the CLI never share ratchet state.
 */

import { canonicalJsonBytes, parseObject } from "./canonical-json.js";
import { asDocument, type KeystoreDocument } from "./document.js";
import { KeystoreError } from "./errors.js";
import { MAGIC_EXPORT, PROFILE, SealingKey, type Argon2Profile } from "./sealing.js";
import { wipe } from "../crypto/primitives.js";

export const EXPORT_FORMAT = "medcrypt-web-export/1";
export const EXPORT_MIME = "application/octet-stream";

export interface OpenedExport {
  readonly exportedAt: string;
  readonly document: KeystoreDocument;
}

/** Seal `document` for a file, under `passphrase` (the caller has rated it). */
export function sealExport(document: KeystoreDocument, passphrase: string, exportedAt: string,
  profile: Argon2Profile = PROFILE): Uint8Array {
  const body = canonicalJsonBytes({ format: EXPORT_FORMAT, exported_at: exportedAt, document });
  const key = SealingKey.create(MAGIC_EXPORT, passphrase, profile);
  try {
    return key.seal(body);
  } finally {
    key.wipe();
    wipe(body);
  }
}

/** Open an export: `keystore_not_an_export`, `keystore_wrong_passphrase` or the document. */
export function openExport(bytes: Uint8Array, passphrase: string): OpenedExport {
  const { key, padded } = SealingKey.unlock(MAGIC_EXPORT, passphrase, bytes);
  key.wipe();
  try {
    const outer = parseObject(padded);
    const inner = outer?.["document"];
    const exportedAt = outer?.["exported_at"];
    const document = inner !== null && typeof inner === "object" && !Array.isArray(inner)
      ? asDocument(inner) : null;
    if (outer?.["format"] !== EXPORT_FORMAT || typeof exportedAt !== "string" || document === null) {
      throw new KeystoreError("keystore_not_an_export", "authentic, but not an export document");
    }
    return { exportedAt, document };
  } finally {
    wipe(padded);
  }
}

/** A file name for the download: the date only, no name or pairing. */
export function exportFileName(at: Date): string {
  return `medcrypt-web-export-${at.toISOString().slice(0, 10)}.mcx`;
}
