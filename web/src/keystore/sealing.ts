/**
 * Passphrase sealing: the CLI keystore's inner format (docs/PROTOCOL.md §15), reused
 * as is for the web keystore's inner document, and with another magic for exports.
 *
 *   magic (4) | version u8 = 1 | opslimit u32 BE | memlimit u32 BE | salt (16) | nonce (24)
 *   ciphertext = XChaCha20-Poly1305-IETF(key, nonce, document padded with spaces to a
 *                multiple of 4096 bytes, aad = the 53 header bytes)
 *   key = Argon2id v1.3 (UTF-8 of NFC(passphrase), salt, opslimit, memlimit) -> 32 bytes
 *
 * Why reuse it: it already authenticates the Argon2id cost (a lowered cost derives
 * another key and fails the tag), refuses absurd costs before Argon2id runs, hides the
 * document's size in 4 KiB steps and draws a fresh nonce per save; a Python test opens
 * the web's inner blob with the CLI's own reader. The magic is what keeps the products
 * apart: `MCKS` inside the browser's record, `MCKX` for an export file, which the CLI
 * refuses as "not a MedCrypt keystore" and which the web refuses as a keystore.
 *
 * Argon2id and XChaCha come from web/src/crypto/primitives.ts (libsodium); this module
 * calls nothing else. The derived key lives in one Uint8Array that `wipe()` zeroes.
 */

import { argon2id, randomBytes, wipe, xchachaDecrypt, xchachaEncrypt } from "../crypto/primitives.js";
import { KeystoreError } from "./errors.js";

export const MAGIC_KEYSTORE = "MCKS";
export const MAGIC_EXPORT = "MCKX";
export const FORMAT_VERSION = 1;
export const HEADER_LEN = 53;
export const SALT_LEN = 16;
export const NONCE_LEN = 24;
export const TAG_LEN = 16;
export const KEY_LEN = 32;
export const PAD_BLOCK = 4096;

/** An Argon2id cost: passes over `memlimit` bytes. */
export interface Argon2Profile {
  readonly opslimit: number;
  readonly memlimit: number;
}

/** The CLI's product profile (crypto/endpoint/keystore.py PROFILE): 3 passes, 128 MiB. */
export const PROFILE: Argon2Profile = Object.freeze({ opslimit: 3, memlimit: 128 * 1024 * 1024 });
/** libsodium's minimum: tests name it explicitly to stay fast; the product never does. */
export const PROFILE_TEST_MINIMUM: Argon2Profile = Object.freeze({ opslimit: 1, memlimit: 8192 });
/** A reader refuses costs outside these bounds before Argon2id runs (§15). */
export const MAX_OPSLIMIT = 16;
export const MAX_MEMLIMIT = 1024 * 1024 * 1024;

export type Magic = typeof MAGIC_KEYSTORE | typeof MAGIC_EXPORT;

export interface SealedHeader {
  readonly magic: Magic;
  readonly opslimit: number;
  readonly memlimit: number;
  readonly salt: Uint8Array;
  readonly nonce: Uint8Array;
}

/** Whether either cost of `p` falls short of `q`'s (so a re-seal is due). */
export function weakerThan(p: Argon2Profile, q: Argon2Profile): boolean {
  return p.opslimit < q.opslimit || p.memlimit < q.memlimit;
}

/** Each cost at least `q`'s: raising never lowers what a record already has. */
export function raisedTo(p: Argon2Profile, q: Argon2Profile): Argon2Profile {
  return { opslimit: Math.max(p.opslimit, q.opslimit), memlimit: Math.max(p.memlimit, q.memlimit) };
}

function magicBytes(magic: Magic): Uint8Array {
  return new TextEncoder().encode(magic);
}

/**
 * Read and bound-check a header. `expected` is the magic this caller reads; the other
 * magic gets the error that says what the bytes are instead (an export offered as a
 * keystore, a keystore offered as an export).
 */
export function parseHeader(blob: Uint8Array, expected: Magic): SealedHeader {
  const wrongKind = expected === MAGIC_EXPORT ? "keystore_not_an_export" : "keystore_damaged";
  if (blob.length < HEADER_LEN + TAG_LEN) throw new KeystoreError(wrongKind, "truncated");
  const magic = new TextDecoder().decode(blob.subarray(0, 4));
  if (magic !== expected || blob[4] !== FORMAT_VERSION) {
    throw new KeystoreError(wrongKind, "another magic or version");
  }
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const opslimit = view.getUint32(5, false);
  const memlimit = view.getUint32(9, false);
  if (opslimit < PROFILE_TEST_MINIMUM.opslimit || opslimit > MAX_OPSLIMIT
      || memlimit < PROFILE_TEST_MINIMUM.memlimit || memlimit > MAX_MEMLIMIT) {
    throw new KeystoreError(wrongKind, "out-of-range Argon2id parameters");
  }
  return {
    magic: expected,
    opslimit,
    memlimit,
    salt: blob.slice(13, 29),
    nonce: blob.slice(29, 53),
  };
}

/** The passphrase as Argon2id reads it: UTF-8 of its NFC form (PROTOCOL §15). */
export function passphraseBytes(passphrase: string): Uint8Array {
  if (passphrase.length === 0) throw new KeystoreError("keystore_weak_passphrase", "empty");
  return new TextEncoder().encode(passphrase.normalize("NFC"));
}

/**
 * The Argon2id key of one sealed blob (one salt, one cost), held in a wipeable buffer.
 * Sealing draws a fresh nonce from the OS every time: a caller cannot reuse one.
 */
export class SealingKey {
  readonly magic: Magic;
  readonly salt: Uint8Array;
  readonly profile: Argon2Profile;
  #key: Uint8Array;
  #wiped = false;

  private constructor(magic: Magic, salt: Uint8Array, profile: Argon2Profile, key: Uint8Array) {
    this.magic = magic;
    this.salt = salt;
    this.profile = profile;
    this.#key = key;
  }

  static #derive(magic: Magic, passphrase: string, salt: Uint8Array, profile: Argon2Profile): SealingKey {
    const pass = passphraseBytes(passphrase);
    try {
      return new SealingKey(magic, salt, profile,
        argon2id(pass, salt, profile.opslimit, profile.memlimit));
    } catch {
      // libsodium refused the cost or could not allocate its memory on this device.
      throw new KeystoreError("keystore_unsupported", "Argon2id could not run at this cost");
    } finally {
      wipe(pass);
    }
  }

  /** The key of a new record (or a re-seal): a fresh random salt. */
  static create(magic: Magic, passphrase: string, profile: Argon2Profile = PROFILE): SealingKey {
    return SealingKey.#derive(magic, passphrase, randomBytes(SALT_LEN), profile);
  }

  /**
   * Derive the key `blob`'s header names and open it. A wrong passphrase or any altered
   * byte is `keystore_wrong_passphrase`, raised after the derived key has been zeroed.
   */
  static unlock(magic: Magic, passphrase: string, blob: Uint8Array): { key: SealingKey; padded: Uint8Array } {
    const header = parseHeader(blob, magic);
    const key = SealingKey.#derive(magic, passphrase, header.salt, header);
    try {
      return { key, padded: key.open(blob) };
    } catch (e) {
      key.wipe();
      throw e;
    }
  }

  /** The sealed bytes of `document`, padded to 4 KiB, under a fresh nonce. */
  seal(document: Uint8Array): Uint8Array {
    this.#check();
    const padLen = (PAD_BLOCK - (document.length % PAD_BLOCK)) % PAD_BLOCK;
    const padded = new Uint8Array(document.length + padLen).fill(0x20);
    padded.set(document);
    const header = new Uint8Array(HEADER_LEN);
    header.set(magicBytes(this.magic), 0);
    header[4] = FORMAT_VERSION;
    const view = new DataView(header.buffer);
    view.setUint32(5, this.profile.opslimit, false);
    view.setUint32(9, this.profile.memlimit, false);
    header.set(this.salt, 13);
    header.set(randomBytes(NONCE_LEN), 29);
    try {
      const ct = xchachaEncrypt(this.#key, header.subarray(29, 53), padded, header);
      const out = new Uint8Array(HEADER_LEN + ct.length);
      out.set(header);
      out.set(ct, HEADER_LEN);
      return out;
    } finally {
      wipe(padded);
    }
  }

  /** The padded document of a blob sealed under this key (another salt or cost fails). */
  open(blob: Uint8Array): Uint8Array {
    this.#check();
    const header = parseHeader(blob, this.magic);
    const same = header.opslimit === this.profile.opslimit && header.memlimit === this.profile.memlimit
      && header.salt.every((b, i) => b === this.salt[i]);
    if (!same) throw new KeystoreError("keystore_wrong_passphrase");
    try {
      return xchachaDecrypt(this.#key, header.nonce, blob.subarray(HEADER_LEN), blob.subarray(0, HEADER_LEN));
    } catch {
      // One answer for a wrong passphrase and a damaged record, as the CLI (§15).
      throw new KeystoreError("keystore_wrong_passphrase");
    }
  }

  /** Zero the derived key (idempotent); the object refuses to work afterwards. */
  wipe(): void {
    wipe(this.#key);
    this.#wiped = true;
  }

  get wiped(): boolean {
    return this.#wiped;
  }

  #check(): void {
    // A zeroed key would still "work": refuse rather than seal under 32 zero bytes.
    if (this.#wiped) throw new KeystoreError("keystore_closed", "the sealing key was wiped");
  }
}
