/**
 * The keystore's typed errors. Each carries a stable `code` that the app translates
 * (`t("keystore." + ...)` in web/src/app/i18n.ts); a message is for developers only and
 * never holds a passphrase, a key, a document byte or a pairing's secret.
 *
 * Why codes and not classes per case: the app needs one `switch` over what to tell the
 * user, and a code survives `structuredClone`/`postMessage` where a subclass does not.
 * The split mirrors crypto/errors.py: `wrong-passphrase` is the web's KeystoreLocked
 * ("wrong passphrase or damaged file", no further detail); `damaged` is a record that is
 * not a keystore at all; the rest are policy (`open-in-another-tab`,
 * `pairing-needs-repair`, `weak-passphrase`) or environment (`unsupported`,
 * `write-failed`, `device-key-missing`).
 */

export type KeystoreErrorCode =
  /** Passphrase wrong, or the sealed document altered: one answer for both (no oracle). */
  | "keystore.wrong-passphrase"
  /** The stored or imported bytes are not a keystore of a version this code reads. */
  | "keystore.damaged"
  /** The browser's own (non-extractable) key does not open the record: another profile's copy. */
  | "keystore.device-key-mismatch"
  /** The record exists but this browser's wrapping key is gone (partial purge or copy). */
  | "keystore.device-key-missing"
  /** Another tab of this origin holds the keystore (Web Locks). */
  | "keystore.open-in-another-tab"
  /** No keystore in this browser profile yet. */
  | "keystore.not-found"
  /** Setup or restore over an existing keystore without saying `replace`. */
  | "keystore.exists"
  /** The passphrase is below the CLI's floor (zxcvbn score 2, "fair"), or empty. */
  | "keystore.weak-passphrase"
  /** Sealing or the IndexedDB write failed: nothing was shown, the old state stands. */
  | "keystore.write-failed"
  /** The store was locked (or its tab lock lost): unlock again. */
  | "keystore.locked"
  /** A restored pairing: its ratchet was rolled back, so re-pair or reset first. */
  | "keystore.pairing-needs-repair"
  /** No such pairing in the document. */
  | "keystore.unknown-pairing"
  /** The file is not a MedCrypt web export (or is a CLI keystore file). */
  | "keystore.not-an-export"
  /** IndexedDB, WebCrypto or Web Locks is missing (old browser, private mode...). */
  | "keystore.unsupported";

export class KeystoreError extends Error {
  override readonly name = "KeystoreError";
  readonly code: KeystoreErrorCode;

  constructor(code: KeystoreErrorCode, detail?: string) {
    // The detail is fixed developer text chosen by this module, never user data.
    super(detail === undefined ? code : `${code}: ${detail}`);
    this.code = code;
  }
}

/** Whether `e` is a keystore error with `code` (for `catch` blocks in the app). */
export function isKeystoreError(e: unknown, code?: KeystoreErrorCode): e is KeystoreError {
  return e instanceof KeystoreError && (code === undefined || e.code === code);
}
