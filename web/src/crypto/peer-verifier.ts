/**
 * Strict Ed25519 verification of a pinned peer's signatures, run by the platform's
 * WebCrypto (BoringSSL in Chromium, OpenSSL in Node) where its verdict is proven to be
 * libsodium's, and by libsodium everywhere else (ADR 0044).
 *
 * Why: the envelope signature is the largest single cost of opening a message in the web
 * companion: libsodium's verification in WASM takes several times what the platform's
 * native code takes, Promise included (bench/web_decrypt_profile.py measures both).
 *
 * Why the verdict stays libsodium's (strict RFC 8032, what PyNaCl runs for the Python
 * companion). libsodium verifies cofactorless - it recomputes `[S]B - [k]A` and compares
 * its canonical encoding with the signature's R bytes - and refuses S >= L, a
 * non-canonical or small-order A and a small-order R. The WebCrypto engines verify
 * cofactorless too and refuse S >= L, but let small-order points through. So:
 * - A: a key is handed to WebCrypto only if libsodium's `is_valid_point` accepts it
 *   (canonical, not of small order, in the prime-order subgroup), checked once when its
 *   verifier is made. Any other key gets the libsodium verifier: its verdicts are
 *   libsodium's by construction.
 * - R: with A of prime order, `[S]B - [k]A` lies in the prime-order subgroup; the only
 *   small-order point there is the identity, and the byte comparison can only match its
 *   canonical encoding `01 00..00`. That one value is refused here before WebCrypto runs.
 * - The engine: before its first use in a realm, a probe of known answers must come out
 *   right - a valid signature accepted; the same with S + L, and one whose R carries a
 *   small-order component (which only a cofactored verifier accepts), refused. An engine
 *   without Ed25519, or one that fails the probe, is never used.
 *
 * Verifiers are cached per public key (keys are public: nothing to wipe), so a thread's
 * messages pay the import and the point check once, as a session would.
 */

import {
  ED25519_PUBLIC_LEN, ED25519_SIG_LEN, ed25519IsPrimeOrderPoint, ed25519Verify, fromHex, toHex,
} from "./primitives.js";

export type Engine = "webcrypto" | "libsodium";

/** One pinned key's strict verifier; `verify` never rejects, it answers `false`. */
export interface PeerVerifier {
  readonly engine: Engine;
  verify(message: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

const ED25519 = { name: "Ed25519" } as const;
const CACHE_LIMIT = 32;

/**
 * The probe's known answers, derived by web/test/vectors/peer_verifier.ts from fixed
 * scalars with libsodium's group operations (that check re-derives them): key `a·B`, a
 * valid signature `(r·B, r + k·a)`, the same with S + L, and `(r·B + T8, r + k'·a)` with
 * T8 a point of order 8.
 */
export const PROBE = {
  publicKey: "8bebae2043afa0fbed53983532925b14b8d84ef1ec6692d617d333d620c7a3ca",
  /** "MEDCRYPT WebCrypto Ed25519 probe" */
  message: "4d454443525950542057656243727970746f20456432353531392070726f6265",
  valid: "4184c6261efa6c2fe6beda04ddd356c4b31d8fc54bd00260107be15399102245"
    + "9a98c64a3699041d825e2ba1258ba401da03677a7ce127b48c45bf8c68ae3e00",
  sPlusL: "4184c6261efa6c2fe6beda04ddd356c4b31d8fc54bd00260107be15399102245"
    + "876cbca750fc167558fb224404858316da03677a7ce127b48c45bf8c68ae3e10",
  torsionR: "e0881a946b895412309ccd0833606134d09ec8dff38d91f97f48e7309319cf49"
    + "138ee04dcdc9542cfcadd48db62def585d0877d38031a655f2ce2e5fd7be700d",
} as const;

class LibsodiumVerifier implements PeerVerifier {
  readonly engine = "libsodium";
  readonly #key: Uint8Array;

  constructor(publicKey: Uint8Array) {
    this.#key = publicKey.slice();
  }

  verify(message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    return Promise.resolve(ed25519Verify(this.#key, message, signature));
  }
}

function rIsIdentity(signature: Uint8Array): boolean {
  if (signature[0] !== 1) {
    return false;
  }
  for (let i = 1; i < 32; i += 1) {
    if (signature[i] !== 0) {
      return false;
    }
  }
  return true;
}

class WebCryptoVerifier implements PeerVerifier {
  readonly engine = "webcrypto";

  constructor(private readonly subtle: SubtleCrypto, private readonly key: CryptoKey) {}

  async verify(message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (signature.length !== ED25519_SIG_LEN || rIsIdentity(signature)) {
      return false;
    }
    try {
      return await this.subtle.verify(ED25519, this.key, signature as Uint8Array<ArrayBuffer>,
        message as Uint8Array<ArrayBuffer>);
    } catch {
      return false;
    }
  }
}

function subtleOrNull(): SubtleCrypto | null {
  return (globalThis.crypto as Crypto | undefined)?.subtle ?? null;
}

async function importKey(subtle: SubtleCrypto, publicKey: Uint8Array): Promise<CryptoKey> {
  return subtle.importKey("raw", publicKey as Uint8Array<ArrayBuffer>, ED25519, false, ["verify"]);
}

async function runProbe(subtle: SubtleCrypto): Promise<boolean> {
  try {
    const key = await importKey(subtle, fromHex(PROBE.publicKey));
    const message = fromHex(PROBE.message) as Uint8Array<ArrayBuffer>;
    const verdict = (sig: string): Promise<boolean> =>
      subtle.verify(ED25519, key, fromHex(sig) as Uint8Array<ArrayBuffer>, message);
    return await verdict(PROBE.valid) && !await verdict(PROBE.sPlusL)
      && !await verdict(PROBE.torsionR);
  } catch {
    return false;
  }
}

let probe: Promise<boolean> | null = null;

/** Whether this realm's WebCrypto has Ed25519 and passed the probe (run once). */
export function webcryptoEd25519Usable(): Promise<boolean> {
  const subtle = subtleOrNull();
  if (subtle === null) {
    return Promise.resolve(false);
  }
  probe ??= runProbe(subtle);
  return probe;
}

/** The libsodium verifier, whatever the key (the reference the other must equal). */
export function libsodiumVerifier(publicKey: Uint8Array): PeerVerifier {
  return new LibsodiumVerifier(publicKey);
}

/**
 * The WebCrypto verifier for `publicKey`, or `null` when the key is not a canonical
 * prime-order point or the engine is missing or failed the probe.
 */
export async function webcryptoVerifier(publicKey: Uint8Array): Promise<PeerVerifier | null> {
  if (publicKey.length !== ED25519_PUBLIC_LEN || !ed25519IsPrimeOrderPoint(publicKey)) {
    return null;
  }
  const subtle = subtleOrNull();
  if (subtle === null || !await webcryptoEd25519Usable()) {
    return null;
  }
  try {
    return new WebCryptoVerifier(subtle, await importKey(subtle, publicKey));
  } catch {
    return null;
  }
}

const cache = new Map<string, Promise<PeerVerifier>>();

/** The verifier for a pinned key: WebCrypto's where it qualifies, else libsodium's; cached. */
export function peerVerifier(publicKey: Uint8Array): Promise<PeerVerifier> {
  const id = toHex(publicKey);
  const hit = cache.get(id);
  if (hit !== undefined) {
    return hit;
  }
  const copy = publicKey.slice();
  const made = webcryptoVerifier(copy).then((v) => v ?? libsodiumVerifier(copy));
  cache.set(id, made);
  if (cache.size > CACHE_LIMIT) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) {
      cache.delete(oldest);
    }
  }
  return made;
}
