/**
 * The only module of the web companion that calls libsodium (and the only one that
 * calls WebCrypto's randomness; the keystore's non-extractable wrapping key, in
 * `web/src/keystore/`, and the peer's Ed25519 verifier, in `peer-verifier.ts`, are the
 * documented WebCrypto exceptions, ADR 0044).
 *
 * Everything above this module speaks in protocol terms; everything here is a thin,
 * typed, synchronous wrapper over libsodium-wrappers-sumo (libsodium 1.0.22 in WASM),
 * the same library family PyNaCl wraps for the Python companion, so both companions run
 * the same C code for every primitive. Library failures become the project's errors:
 * {@link DecryptionFailed} for every authentication failure, {@link MalformedToken} for
 * unusable key material, {@link StorageError} for Argon2id refusing its parameters.
 *
 * Why synchronous: the protocol modules are pure functions from (state, input) to
 * (new state, output), and the ratchet derives keys in loops (skipped keys, month
 * re-keys). WebCrypto's HKDF and HMAC are Promise-only, which would make every protocol
 * step async and interleavable; libsodium's are not. libsodium's JS build exports no
 * HKDF function (only its constants), so {@link hkdfSha256} is @noble/hashes' (audited,
 * synchronous), checked against the RFC 5869 and Wycheproof HKDF-SHA256 vectors
 * (docs/adr/0028-web-crypto-library.md). Two things leave libsodium for speed on the
 * decrypt path (ADR 0044): base64, on the platform's codec where it has one (below), and
 * a message envelope's Ed25519 verification (`peer-verifier.ts`, asynchronous).
 *
 * Call {@link ready} once before anything else: it loads the WASM module.
 */

import { hkdf as nobleHkdf } from "@noble/hashes/hkdf.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import sodium from "libsodium-wrappers-sumo";

import { DecryptionFailed, MalformedToken, StorageError } from "./errors.js";

/** A source of random bytes; the protocol takes one so vectors can replay recorded draws. */
export type Rng = (n: number) => Uint8Array;

export const KEY_LEN = 32;
export const XNONCE_LEN = 24;
export const IETF_NONCE_LEN = 12;
export const TAG_LEN = 16;
export const X25519_LEN = 32;
export const ED25519_PUBLIC_LEN = 32;
export const ED25519_SIG_LEN = 64;
export const SEALED_BOX_OVERHEAD = 48;
export const SHA256_LEN = 32;
export const HKDF_MAX_LEN = 255 * SHA256_LEN;

let loaded = false;

/** Load libsodium's WASM module; every other function here throws until this resolves. */
export async function ready(): Promise<void> {
  await sodium.ready;
  loaded = true;
}

function lib(): typeof sodium {
  if (!loaded) {
    throw new Error("primitives.ready() was not awaited");
  }
  return sodium;
}

function need(value: Uint8Array, length: number, what: string): void {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new MalformedToken(`${what} must be ${length} bytes`);
  }
}

// --------------------------------------------------------------------------- randomness

/** `n` bytes from the operating system's CSPRNG (crypto.getRandomValues). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  // getRandomValues fills at most 65536 bytes per call.
  for (let offset = 0; offset < n; offset += 65536) {
    globalThis.crypto.getRandomValues(out.subarray(offset, Math.min(n, offset + 65536)));
  }
  return out;
}

/** The default {@link Rng}: the OS. */
export const osRng: Rng = randomBytes;

/**
 * A uniform integer in [0, bound) from the OS CSPRNG: libsodium's `randombytes_uniform`,
 * which rejects the draws that would bias the result (no `% bound` skew). The web
 * keystore's generated passphrase draws its words with it (ADR 0042).
 */
export function randomBelow(bound: number): number {
  if (!Number.isInteger(bound) || bound < 1 || bound > 0xffffffff) {
    throw new RangeError("randomBelow: bound must be an integer in [1, 2^32)");
  }
  return lib().randombytes_uniform(bound);
}

// --------------------------------------------------------------------------- AEAD

/** AEAD_XChaCha20_Poly1305 (draft-irtf-cfrg-xchacha-03) encryption: `ciphertext || tag`. */
export function xchachaEncrypt(
  key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array,
): Uint8Array {
  need(key, KEY_LEN, "key");
  need(nonce, XNONCE_LEN, "nonce");
  return lib().crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, null, nonce, key);
}

/** AEAD_XChaCha20_Poly1305 decryption; every failure is the opaque {@link DecryptionFailed}. */
export function xchachaDecrypt(
  key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array,
): Uint8Array {
  need(key, KEY_LEN, "key");
  need(nonce, XNONCE_LEN, "nonce");
  if (sealed.length < TAG_LEN) {
    throw new DecryptionFailed();
  }
  try {
    return lib().crypto_aead_xchacha20poly1305_ietf_decrypt(null, sealed, aad, nonce, key);
  } catch {
    throw new DecryptionFailed();
  }
}

/** RFC 8439 ChaCha20-Poly1305 (12-byte nonce); only the Wycheproof checks use it. */
export function chachaIetfEncrypt(
  key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array,
): Uint8Array {
  need(key, KEY_LEN, "key");
  need(nonce, IETF_NONCE_LEN, "nonce");
  return lib().crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, aad, null, nonce, key);
}

/** RFC 8439 ChaCha20-Poly1305 decryption; failure is {@link DecryptionFailed}. */
export function chachaIetfDecrypt(
  key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array,
): Uint8Array {
  need(key, KEY_LEN, "key");
  need(nonce, IETF_NONCE_LEN, "nonce");
  if (sealed.length < TAG_LEN) {
    throw new DecryptionFailed();
  }
  try {
    return lib().crypto_aead_chacha20poly1305_ietf_decrypt(null, sealed, aad, nonce, key);
  } catch {
    throw new DecryptionFailed();
  }
}

// --------------------------------------------------------------------------- hashes, KDF

export function sha256(data: Uint8Array): Uint8Array {
  return lib().crypto_hash_sha256(data);
}

export function sha512(data: Uint8Array): Uint8Array {
  return lib().crypto_hash_sha512(data);
}

/**
 * Incremental SHA-256 (libsodium's init/update/final), for hashing a file chunk by chunk
 * with flat memory. The state lives in libsodium's heap until {@link Sha256.digest}.
 */
export class Sha256 {
  readonly #state: ReturnType<typeof sodium.crypto_hash_sha256_init>;
  #done = false;

  constructor() {
    this.#state = lib().crypto_hash_sha256_init();
  }

  update(data: Uint8Array): void {
    if (this.#done) {
      throw new Error("SHA-256 already finished");
    }
    lib().crypto_hash_sha256_update(this.#state, data);
  }

  digest(): Uint8Array {
    if (this.#done) {
      throw new Error("SHA-256 already finished");
    }
    this.#done = true;
    return lib().crypto_hash_sha256_final(this.#state);
  }
}

/** HMAC-SHA256 with a key of any length (libsodium's init/update/final, as RFC 2104). */
export function hmacSha256(key: Uint8Array, message: Uint8Array): Uint8Array {
  const s = lib();
  if (key.length === 32) {
    // The ratchet's keys are 32 bytes: libsodium's one-shot HMAC is the same function
    // with one call into WASM instead of three (the RFC 5869 and Wycheproof HKDF
    // vectors run through both paths: PRKs are 32 bytes, salts of other lengths).
    return s.crypto_auth_hmacsha256(message, key);
  }
  const state = s.crypto_auth_hmacsha256_init(key);
  s.crypto_auth_hmacsha256_update(state, message);
  return s.crypto_auth_hmacsha256_final(state);
}

/**
 * RFC 5869 HKDF-SHA256, from @noble/hashes (audited, synchronous): libsodium's JS build
 * exports no HKDF and WebCrypto's is Promise-only, and the construction is not ours to
 * write. `salt === null` means HashLen zero bytes, as in the RFC (and as Python's
 * `cryptography` treats `salt=None`).
 */
export function hkdfSha256(
  ikm: Uint8Array, salt: Uint8Array | null, info: Uint8Array, length = KEY_LEN,
): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > HKDF_MAX_LEN) {
    throw new MalformedToken("HKDF length out of range");
  }
  return nobleHkdf(nobleSha256, ikm, salt ?? new Uint8Array(SHA256_LEN), info, length);
}

/** Constant-time equality (libsodium `sodium_memcmp`); different lengths are unequal. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) {
    return false;
  }
  if (a.length === 0) {
    return true;
  }
  return lib().memcmp(a, b);
}

/**
 * Overwrite a key buffer with zeros. Best effort: libsodium-wrappers copies arguments into
 * the WASM heap and frees them, and a JS engine may have moved the buffer; what this
 * guarantees is that this buffer no longer holds the key.
 */
export function wipe(buf: Uint8Array | null | undefined): void {
  if (buf) {
    buf.fill(0);
  }
}

// --------------------------------------------------------------------------- X25519

export function x25519Public(priv: Uint8Array): Uint8Array {
  need(priv, X25519_LEN, "X25519 private key");
  return lib().crypto_scalarmult_base(priv);
}

/** Raw X25519; a low-order peer key (all-zero result) is refused as malformed. */
export function x25519Shared(priv: Uint8Array, peerPublic: Uint8Array): Uint8Array {
  need(priv, X25519_LEN, "X25519 private key");
  need(peerPublic, X25519_LEN, "X25519 public key");
  let shared: Uint8Array;
  try {
    // libsodium itself returns -1 (the wrapper throws) on an all-zero output.
    shared = lib().crypto_scalarmult(priv, peerPublic);
  } catch {
    throw new MalformedToken("X25519 public key is of low order");
  }
  if (lib().is_zero(shared)) {
    throw new MalformedToken("X25519 public key is of low order");
  }
  return shared;
}

// --------------------------------------------------------------------------- Ed25519
//
// libsodium's crypto_sign_verify_detached is strict RFC 8032: S must be canonical
// (S < L), R and A must be canonical encodings and not of small order. It has no ZIP-215
// mode to switch off. The Wycheproof eddsa_test.json cases prove it through this wrapper.

/** An expanded Ed25519 key (expanding the seed costs as much as one signature). */
export interface Ed25519KeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

export function ed25519KeyPair(seed: Uint8Array): Ed25519KeyPair {
  need(seed, 32, "Ed25519 seed");
  const pair = lib().crypto_sign_seed_keypair(seed);
  return { publicKey: pair.publicKey, secretKey: pair.privateKey };
}

export function ed25519Public(seed: Uint8Array): Uint8Array {
  const pair = ed25519KeyPair(seed);
  wipe(pair.secretKey);
  return pair.publicKey;
}

/** Sign with a 32-byte seed or a 64-byte expanded secret key. */
export function ed25519Sign(seedOrSecret: Uint8Array, message: Uint8Array): Uint8Array {
  if (seedOrSecret.length === 64) {
    return lib().crypto_sign_detached(message, seedOrSecret);
  }
  const pair = ed25519KeyPair(seedOrSecret);
  try {
    return lib().crypto_sign_detached(message, pair.secretKey);
  } finally {
    wipe(pair.secretKey);
  }
}

/** Strict RFC 8032 verification; `false` on any failure, including wrong lengths. */
export function ed25519Verify(
  publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array,
): boolean {
  if (publicKey.length !== ED25519_PUBLIC_LEN || signature.length !== ED25519_SIG_LEN) {
    return false;
  }
  try {
    return lib().crypto_sign_verify_detached(signature, message, publicKey);
  } catch {
    return false;
  }
}

/**
 * libsodium `crypto_core_ed25519_is_valid_point`: the canonical encoding of a curve point
 * that is not of small order and lies in the prime-order subgroup. A pinned key must pass
 * it before its signatures may be checked outside libsodium (`peer-verifier.ts`, ADR 0044).
 */
export function ed25519IsPrimeOrderPoint(point: Uint8Array): boolean {
  if (point.length !== ED25519_PUBLIC_LEN) {
    return false;
  }
  return lib().crypto_core_ed25519_is_valid_point(point);
}

/** {@link ed25519Verify} that throws the opaque {@link DecryptionFailed} instead. */
export function ed25519Require(
  publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array,
): void {
  if (!ed25519Verify(publicKey, message, signature)) {
    throw new DecryptionFailed();
  }
}

// --------------------------------------------------------------------------- sealed box

/**
 * libsodium `crypto_box_seal` with the ephemeral key drawn from `rng`:
 * `epk || crypto_box(m, blake2b(epk || pk, 24), pk, esk)`, byte-identical to libsodium's,
 * so escrow deposits can have fixed vectors (as `crypto/_primitives.py` does).
 */
export function sealedBoxSeal(
  recipientPublic: Uint8Array, message: Uint8Array, rng: Rng = osRng,
): Uint8Array {
  need(recipientPublic, X25519_LEN, "escrow public key");
  const s = lib();
  const esk = rng(X25519_LEN);
  try {
    const epk = s.crypto_scalarmult_base(esk);
    const joined = concat(epk, recipientPublic);
    const nonce = s.crypto_generichash(24, joined, null);
    const boxed = s.crypto_box_easy(message, nonce, recipientPublic, esk);
    return concat(epk, boxed);
  } finally {
    wipe(esk);
  }
}

/** Open a libsodium sealed box; any failure is {@link DecryptionFailed}. */
export function sealedBoxOpen(recipientPrivate: Uint8Array, sealed: Uint8Array): Uint8Array {
  need(recipientPrivate, X25519_LEN, "escrow private key");
  if (sealed.length < SEALED_BOX_OVERHEAD) {
    throw new DecryptionFailed();
  }
  const s = lib();
  try {
    const pub = s.crypto_scalarmult_base(recipientPrivate);
    return s.crypto_box_seal_open(sealed, pub, recipientPrivate);
  } catch {
    throw new DecryptionFailed();
  }
}

// --------------------------------------------------------------------------- Argon2id

export const ARGON2ID_SALT_LEN = 16;

/**
 * libsodium `crypto_pwhash` (Argon2id v1.3). Parameters libsodium refuses, or memory it
 * cannot allocate, are a {@link StorageError}: callers derive a keystore key.
 */
export function argon2id(
  passphrase: Uint8Array, salt: Uint8Array, opslimit: number, memlimit: number,
  length = KEY_LEN,
): Uint8Array {
  need(salt, ARGON2ID_SALT_LEN, "Argon2id salt");
  const s = lib();
  try {
    return s.crypto_pwhash(length, passphrase, salt, opslimit, memlimit,
      s.crypto_pwhash_ALG_ARGON2ID13);
  } catch {
    throw new StorageError("Argon2id failed (parameters out of range or out of memory)");
  }
}

/** libsodium's floor and interactive presets, for callers that pick a strength. */
export function argon2idLimits(): {
  opsMin: number; memMin: number; opsInteractive: number; memInteractive: number;
} {
  const s = lib();
  return {
    opsMin: s.crypto_pwhash_OPSLIMIT_MIN,
    memMin: s.crypto_pwhash_MEMLIMIT_MIN,
    opsInteractive: s.crypto_pwhash_OPSLIMIT_INTERACTIVE,
    memInteractive: s.crypto_pwhash_MEMLIMIT_INTERACTIVE,
  };
}

// --------------------------------------------------------------------------- secretstream

export const STREAM_HEADER_LEN = 24;
/** Per-chunk expansion: 1 encrypted tag byte + 16-byte Poly1305 MAC. */
export const STREAM_ABYTES = 17;
export const STREAM_TAG_MESSAGE = 0;
export const STREAM_TAG_FINAL = 3;

type StreamState = ReturnType<typeof sodium.crypto_secretstream_xchacha20poly1305_init_pull>;

function streamState(key: Uint8Array, header: Uint8Array): StreamState {
  need(key, KEY_LEN, "secretstream key");
  need(header, STREAM_HEADER_LEN, "secretstream header");
  return lib().crypto_secretstream_xchacha20poly1305_init_pull(header, key);
}

/**
 * The encrypting side of a secretstream whose 24-byte header the caller chose.
 *
 * Why not `init_push`: it draws the header from libsodium's RNG, which cannot be
 * injected. `init_pull` performs the identical state set-up from a given header, so a
 * push state initialised by it produces exactly what `init_push` would have with that
 * header - which is what lets vectors pin container bytes (as crypto/_primitives.py).
 */
export class SecretStreamPush {
  readonly #state: StreamState;

  constructor(key: Uint8Array, header: Uint8Array) {
    this.#state = streamState(key, header);
  }

  /** Encrypt one chunk (`chunk.length + STREAM_ABYTES` bytes out). */
  push(chunk: Uint8Array, ad: Uint8Array | null, tag: number): Uint8Array {
    return lib().crypto_secretstream_xchacha20poly1305_push(this.#state, chunk, ad, tag);
  }
}

/** The decrypting side of a secretstream; every failure is {@link DecryptionFailed}. */
export class SecretStreamPull {
  readonly #state: StreamState;

  constructor(key: Uint8Array, header: Uint8Array) {
    this.#state = streamState(key, header);
  }

  /** Authenticate and decrypt one chunk. */
  pull(block: Uint8Array, ad: Uint8Array | null): { message: Uint8Array; tag: number } {
    if (block.length < STREAM_ABYTES) {
      throw new DecryptionFailed();
    }
    let result: { message: Uint8Array; tag: number } | false;
    try {
      result = lib().crypto_secretstream_xchacha20poly1305_pull(this.#state, block, ad);
    } catch {
      throw new DecryptionFailed();
    }
    if (result === false) {
      throw new DecryptionFailed();
    }
    return result;
  }
}

// --------------------------------------------------------------------------- bytes

/** Concatenate byte arrays (a helper, not a primitive; here so protocol code shares it). */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) {
    total += p.length;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

// --------------------------------------------------------------------------- encodings
//
// Strict codecs (no whitespace, no stray trailing bits, padding exactly as the variant
// says), never hand-rolled loops. Hex is libsodium's. Base64 is the platform's own
// (`Uint8Array.fromBase64` / `toBase64`, ES2026: Chromium 140+, Firefox 133+, Safari
// 18.2+) where it exists, and libsodium's otherwise: libsodium-wrappers spends more on
// one 6 KB token in WASM than the whole AEAD (bench/web_decrypt_profile.py, ADR 0044).
// The platform codec is made exactly as strict as libsodium's: the alphabet is checked
// first (it would skip whitespace), unpadded input is padded for its "strict" last-chunk
// rule (which refuses non-zero trailing bits and impossible lengths), and the vector
// checks compare the two on mutated inputs in Chromium.

export function toHex(data: Uint8Array): string {
  return lib().to_hex(data);
}

/** Strict lowercase/uppercase hex; anything else is {@link MalformedToken}. */
export function fromHex(text: string): Uint8Array {
  if (text.length % 2 !== 0) {
    throw new MalformedToken("hex of odd length");
  }
  try {
    return lib().from_hex(text);
  } catch {
    throw new MalformedToken("invalid hex");
  }
}

export type Base64Variant = "standard" | "standard-nopad" | "url" | "url-nopad";

function variant(v: Base64Variant): number {
  const b = lib().base64_variants;
  switch (v) {
    case "standard": return b.ORIGINAL;
    case "standard-nopad": return b.ORIGINAL_NO_PADDING;
    case "url": return b.URLSAFE;
    case "url-nopad": return b.URLSAFE_NO_PADDING;
  }
}

interface NativeBase64 {
  fromBase64(text: string, options: { alphabet: "base64" | "base64url"; lastChunkHandling: "strict" }): Uint8Array;
  toBase64(data: Uint8Array, options: { alphabet: "base64" | "base64url"; omitPadding: boolean }): string;
}

function probeNativeBase64(): NativeBase64 | null {
  const ctor = Uint8Array as unknown as { fromBase64?: unknown; prototype: { toBase64?: unknown } };
  if (typeof ctor.fromBase64 !== "function" || typeof ctor.prototype.toBase64 !== "function") {
    return null;
  }
  const from = ctor.fromBase64 as NativeBase64["fromBase64"];
  return {
    fromBase64: (text, options) => from.call(Uint8Array, text, options),
    toBase64: (data, options) =>
      (data as unknown as { toBase64(o: object): string }).toBase64(options),
  };
}

const NATIVE_BASE64 = probeNativeBase64();
const ALPHABET_STANDARD = /^[A-Za-z0-9+/]*$/;
const ALPHABET_URL = /^[A-Za-z0-9_-]*$/;

/** Whether base64 runs on the platform's codec here (else libsodium's). */
export function base64IsNative(): boolean {
  return NATIVE_BASE64 !== null;
}

/** libsodium's base64 (the reference; the vector checks compare the platform's with it). */
export function toBase64Sodium(data: Uint8Array, v: Base64Variant): string {
  return lib().to_base64(data, variant(v));
}

/** libsodium's strict base64 decoder; anything else is {@link MalformedToken}. */
export function fromBase64Sodium(text: string, v: Base64Variant): Uint8Array {
  if (text.length === 0) {
    return new Uint8Array(0);
  }
  try {
    return lib().from_base64(text, variant(v));
  } catch {
    throw new MalformedToken("invalid base64");
  }
}

export function toBase64(data: Uint8Array, v: Base64Variant): string {
  if (NATIVE_BASE64 === null) {
    return toBase64Sodium(data, v);
  }
  return NATIVE_BASE64.toBase64(data, { alphabet: v.startsWith("url") ? "base64url" : "base64",
    omitPadding: v.endsWith("nopad") });
}

/** Strict base64 of the given variant; anything else is {@link MalformedToken}. */
export function fromBase64(text: string, v: Base64Variant): Uint8Array {
  if (NATIVE_BASE64 === null) {
    return fromBase64Sodium(text, v);
  }
  if (text.length === 0) {
    return new Uint8Array(0);
  }
  const padded = !v.endsWith("nopad");
  let body = text;
  if (padded) {
    if (text.length % 4 !== 0) {
      throw new MalformedToken("invalid base64");
    }
    body = text.endsWith("==") ? text.slice(0, -2) : text.endsWith("=") ? text.slice(0, -1) : text;
  }
  if (!(v.startsWith("url") ? ALPHABET_URL : ALPHABET_STANDARD).test(body)) {
    throw new MalformedToken("invalid base64");
  }
  const full = padded ? text : text + "=".repeat((4 - (text.length % 4)) % 4);
  try {
    return NATIVE_BASE64.fromBase64(full, { alphabet: v.startsWith("url") ? "base64url" : "base64",
      lastChunkHandling: "strict" });
  } catch {
    throw new MalformedToken("invalid base64");
  }
}
