/**
 * The keystore's typed errors. Each carries a stable `code` in the style of
 * web/src/crypto/errors.ts (snake_case, here prefixed `keystore_`), which the app
 * translates as `error.<code>` (web/src/app/strings); a message is for developers only
 * and never holds a passphrase, a key, a document byte or a pairing's secret.
 *
 * Why codes and not a class per case: the app needs one `switch` over what to tell the
 * user, and a code survives `structuredClone`/`postMessage` where a subclass does not.
 * The split mirrors crypto/errors.py: `keystore_wrong_passphrase` is the CLI's
 * KeystoreLocked ("wrong passphrase or damaged file", no further detail);
 * `keystore_damaged` is a record that is not a keystore at all; the rest are policy
 * (`keystore_open_in_another_tab`, `keystore_pairing_needs_repair`,
 * `keystore_weak_passphrase`) or environment (`keystore_unsupported`,
 * `keystore_write_failed`, `keystore_device_key_missing`). `keystore_closed` is a store
 * that was locked (by the user or a lost tab lock): unlock again.
 */

export type KeystoreErrorCode =
  /** Passphrase wrong, or the sealed document altered: one answer for both (no oracle). */
  | "keystore_wrong_passphrase"
  /** The stored or imported bytes are not a keystore of a version this code reads. */
  | "keystore_damaged"
  /** The browser's own (non-extractable) key does not open the record: another profile's copy. */
  | "keystore_device_key_mismatch"
  /** The record exists but this browser's wrapping key is gone (partial purge or copy). */
  | "keystore_device_key_missing"
  /** Another tab of this origin holds the keystore (Web Locks). */
  | "keystore_open_in_another_tab"
  /** No keystore in this browser profile yet. */
  | "keystore_not_found"
  /** Setup or restore over an existing keystore without saying `replace`. */
  | "keystore_exists"
  /** A new seal's passphrase is not one this app generated (ADR 0042), or it is empty. */
  | "keystore_weak_passphrase"
  /** Sealing or the IndexedDB write failed: nothing was shown, the old state stands. */
  | "keystore_write_failed"
  /** The store was locked (or its tab lock lost): unlock again. */
  | "keystore_closed"
  /** A restored pairing: its ratchet was rolled back, so re-pair or reset first. */
  | "keystore_pairing_needs_repair"
  /** No such pairing in the document. */
  | "keystore_unknown_pairing"
  /** The file is not a MedCrypt web export (or is a CLI keystore file). */
  | "keystore_not_an_export"
  /** IndexedDB, WebCrypto or Web Locks is missing (old browser, private mode...). */
  | "keystore_unsupported";

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
