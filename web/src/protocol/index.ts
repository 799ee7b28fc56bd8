/**
 * The web companion's protocol, the surface the app and the keystore use
 * (docs/PROTOCOL.md is the source of truth; each module names the Python one it follows).
 *
 * Conventions every function here keeps:
 * - Pure: no DOM, no IndexedDB, no network, no clock or RNG of its own. Time is injected
 *   as `now: Date`, read by the caller from its clock once per operation (Python's code
 *   reads `clock.now()` once at the start of each step too, so one step sees one instant);
 *   randomness as `rng: (n) => Uint8Array`, defaulting to the OS (`crypto.getRandomValues`).
 * - States are plain JSON documents (bytes as padded base64, §28): `medcrypt-session/3`,
 *   `medcrypt-v3-pairing-patient/1`, `medcrypt-v3-pairing-physician/1` - the same
 *   documents, byte for byte, as the Python companion's. Every step returns the new
 *   document with its output and never mutates the one it was given: commit the new
 *   document, then show the output.
 * - Errors are the typed classes of `../crypto/errors.ts`, each with a stable `code` for
 *   the app's `t()`; messages are for developers and hold no secret or plaintext.
 * - Identity keys are passed as the 32-byte Ed25519 seed the keystore holds.
 */

export * as attachment from "./attachment.js";
export * as epochs from "./epochs.js";
export * as offer from "./offer.js";
export * as parts from "./parts.js";
export * as pairing from "./v3pairing.js";
export * as session from "./v3session.js";
export * as text from "./text.js";
export * as wire from "./wire.js";
