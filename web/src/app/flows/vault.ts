/**
 * The one unlocked keystore of this tab, as the flow screens see it.
 *
 * Why a module-level holder: the frame renders screens as functions of a context and
 * keeps no state; the keystore must outlive any one screen (unlock, then pair, then a
 * thread) and must be dropped everywhere at once when it locks (the user's "Lock now",
 * or a lost Web Lock): every screen asks `vault()` when it draws, and a locked store
 * reads as null there.
 *
 * The device's identity key (Ed25519 seed) lives inside the sealed document as
 * `identity.seed`: one identity per device, as the CLI has one per keystore, made at
 * setup from the OS RNG.
 */
import { ed25519Public, fromBase64, randomBytes, ready, toBase64 } from "../../crypto/primitives.js";
import { MedCryptError } from "../../crypto/errors.js";
import { Keystore, KeystoreError, type JsonObject, type KeystoreDocument } from "../../keystore/index.js";
import { t, type MessageKey } from "../i18n.js";

let store: Keystore | null = null;

/** The unlocked keystore, or null (never a locked one: a lost tab lock reads as null). */
export function vault(): Keystore | null {
  if (store !== null && !store.unlocked) {
    store = null;
  }
  return store;
}

export function setVault(next: Keystore | null): void {
  if (store !== null && store !== next) store.lock();
  store = next;
}

/** The app members a new keystore document starts with: a fresh device identity. */
export async function newIdentityMembers(): Promise<JsonObject> {
  await ready(); // libsodium's WASM: the keystore awaits it too, but only after rating
  const seed = randomBytes(32);
  const members: JsonObject = { identity: { seed: toBase64(seed, "standard") } };
  seed.fill(0);
  return members;
}

/** The device's identity seed from `doc` (a new buffer: the caller wipes it). */
export function identitySeed(doc: KeystoreDocument): Uint8Array {
  const identity = doc["identity"];
  if (identity === null || typeof identity !== "object" || Array.isArray(identity)
    || typeof identity["seed"] !== "string") {
    throw new KeystoreError("keystore_damaged", "no device identity");
  }
  return fromBase64(identity["seed"], "standard");
}

/** The device's public identity key (no secret leaves this function). */
export function identityPublic(doc: KeystoreDocument): Uint8Array {
  const seed = identitySeed(doc);
  try {
    return ed25519Public(seed);
  } finally {
    seed.fill(0);
  }
}

/** The user-facing text for any error: its stable code through `t()`, never its message. */
export function errorText(e: unknown): string {
  if (e instanceof KeystoreError || e instanceof MedCryptError) {
    return t(`error.${e.code}` as MessageKey);
  }
  return t("error.unknown");
}

/** The stable code of an error, for `data-error` attributes the tests read. */
export function errorCode(e: unknown): string {
  return e instanceof KeystoreError || e instanceof MedCryptError ? e.code : "unknown";
}
