/**
 * The browser's own seal: an AES-256-GCM key made with `extractable: false` and stored
 * in IndexedDB as a CryptoKey, wrapped around the passphrase-sealed record.
 *
 *   outer = "MCKW" | version u8 = 1 | iv (12, from the OS) | AES-GCM(key, iv, inner, aad = the 17 header bytes)
 *
 * What it buys, honestly (ADR 0030): no script, including this app's own, can read the
 * key's bytes, so sealed bytes that leave the browser without the profile (an export of
 * the raw record by a script, a sync of the IndexedDB value, a copy of the value alone)
 * need both the passphrase AND this browser. It does NOT protect against a copy of the
 * whole profile directory on Chromium, where the key is serialised into the same
 * IndexedDB files (tests/web/keystore proves that a copied profile opens with the
 * passphrase alone), nor against code running in this origin, which can use the key
 * while the page runs. Nothing beyond the passphrase is claimed where it is not proven.
 *
 * This is the one place outside web/src/crypto/ allowed to call WebCrypto (the wrapping
 * key must be a non-extractable CryptoKey, which libsodium cannot hold). AES-GCM with
 * random 96-bit IVs is safe for far more than the 2^32 saves one key would ever see.
 */

import { KeystoreError } from "./errors.js";

const MAGIC = new TextEncoder().encode("MCKW");
const VERSION = 1;
const IV_LEN = 12;
const HEADER_LEN = MAGIC.length + 1 + IV_LEN;

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (s === undefined) throw new KeystoreError("keystore_unsupported", "WebCrypto is missing (not a secure context?)");
  return s;
}

/** A fresh non-extractable AES-256-GCM key: the bytes never exist in script memory. */
export async function createDeviceKey(): Promise<CryptoKey> {
  return subtle().generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

/** Wrap the passphrase-sealed record under the browser's key. */
export async function wrap(key: CryptoKey, inner: Uint8Array): Promise<Uint8Array> {
  const header = new Uint8Array(HEADER_LEN);
  header.set(MAGIC, 0);
  header[MAGIC.length] = VERSION;
  crypto.getRandomValues(header.subarray(MAGIC.length + 1));
  const ct = new Uint8Array(await subtle().encrypt(
    { name: "AES-GCM", iv: header.subarray(MAGIC.length + 1), additionalData: header }, key,
    new Uint8Array(inner)));
  const out = new Uint8Array(HEADER_LEN + ct.length);
  out.set(header);
  out.set(ct, HEADER_LEN);
  return out;
}

/** Unwrap; a record this key did not wrap is `keystore_device_key_mismatch`. */
export async function unwrap(key: CryptoKey, outer: Uint8Array): Promise<Uint8Array> {
  if (outer.length < HEADER_LEN + 16 || !MAGIC.every((b, i) => outer[i] === b) || outer[MAGIC.length] !== VERSION) {
    throw new KeystoreError("keystore_damaged", "not a wrapped keystore record");
  }
  // A copy on a plain ArrayBuffer, as WebCrypto's types ask (the bytes are ciphertext).
  const copy = new Uint8Array(outer);
  const header = copy.subarray(0, HEADER_LEN);
  try {
    return new Uint8Array(await subtle().decrypt(
      { name: "AES-GCM", iv: header.subarray(MAGIC.length + 1), additionalData: header }, key,
      copy.subarray(HEADER_LEN)));
  } catch {
    throw new KeystoreError("keystore_device_key_mismatch");
  }
}
