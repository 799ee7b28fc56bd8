// The keystore's test page: the real web/src/keystore in real Chromium, driven by
// tests/web/keystore through `window.T`. Every call returns {ok} or {error: code}, so
// Python asserts on the stable codes the app would translate.
//
// `step` is the ratchet stand-in these tests need: one chain-key step per token
// (token = HMAC(CK, "token" || n), CK' = HMAC(CK, "chain")), a pure function of the
// pairing's state exactly like a protocol send - if the old state is reused, the same
// token comes out again, which is what the crash tests look for.

import {
  Keystore, KeystoreError, PROFILE, PROFILE_TEST_MINIMUM, currentPersistence, generatePassphrase,
  sessionOf, type Json, type KeystoreDocument, type WordLanguage,
} from "../../../../web/src/keystore/index.js";
import { isWebKitPurgingBrowser } from "../../../../web/src/keystore/persistence.js";
import { canonicalJson } from "../../../../web/src/keystore/canonical-json.js";
import { unwrap } from "../../../../web/src/keystore/device-key.js";
import { openExport, sealExport } from "../../../../web/src/keystore/export-file.js";
import { newDocument } from "../../../../web/src/keystore/document.js";
import { get, openDatabase, putAll } from "../../../../web/src/keystore/idb.js";
import { MAGIC_KEYSTORE, SealingKey } from "../../../../web/src/keystore/sealing.js";
import { MedCryptError } from "../../../../web/src/crypto/errors.js";
import {
  ed25519Public, fromBase64, fromHex, hmacSha256, randomBytes, ready, toBase64, wipe, x25519Public,
} from "../../../../web/src/crypto/primitives.js";
import { epochOf } from "../../../../web/src/protocol/epochs.js";
import { decrypt, encrypt, fromPairing, type PairingSecrets } from "../../../../web/src/protocol/v3session.js";
import type { SessionDocument } from "../../../../web/src/protocol/v3state.js";

declare global {
  interface Window {
    T: unknown;
    show?: (token: string) => Promise<void>;
  }
}

let store: Keystore | null = null;
const b64 = (u: Uint8Array) => toBase64(u, "standard");
const unb64 = (s: string) => fromBase64(s, "standard");
const profile = (fast: boolean) => (fast ? PROFILE_TEST_MINIMUM : PROFILE);
const te = new TextEncoder();

type Result = { ok: unknown } | { error: string; message: string };

async function wrapCall(fn: () => Promise<unknown> | unknown): Promise<Result> {
  try {
    return { ok: (await fn()) ?? null };
  } catch (e) {
    if (e instanceof KeystoreError || e instanceof MedCryptError) return { error: e.code, message: e.message };
    const err = e as Error;
    return { error: `js:${err?.name ?? "unknown"}`, message: String(err?.message ?? e) };
  }
}

function need(): Keystore {
  if (store === null) throw new Error("no store in this page");
  return store;
}

function chainStep(session: Json): { session: Json; token: string } {
  const s = session as { chain_key: string; n: number };
  const ck = unb64(s.chain_key);
  const tokenBytes = hmacSha256(ck, te.encode(`token|${s.n}`));
  const next = hmacSha256(ck, te.encode("chain"));
  return { session: { chain_key: b64(next), n: s.n + 1 }, token: `${s.n}:${b64(tokenBytes)}` };
}

/** A v3 pairing made as tests/support/v3pairs.py makes one (fresh random secrets). */
function makeV3Pair(pairingIdHex: string): { patient: SessionDocument; physician: SessionDocument;
  patientSeed: Uint8Array; physicianSeed: Uint8Array } {
  const rng = randomBytes;
  const patientSeed = rng(32);
  const physicianSeed = rng(32);
  const transcript = rng(32);
  const root = rng(32);
  const epPrivate = rng(32);
  const edPrivate = rng(32);
  const base = {
    pairingId: fromHex(pairingIdHex), startEpoch: epochOf(new Date()), graceDays: 7,
    transcriptHash: transcript, escrowPublic: null,
    patientRatchetPublic: x25519Public(epPrivate), physicianRatchetPublic: x25519Public(edPrivate),
  };
  const secrets = (role: "patient" | "physician"): PairingSecrets => ({
    ...base, role, rootKey: root.slice(),
    ownIdentityPrivate: (role === "patient" ? patientSeed : physicianSeed).slice(),
    peerIdentityPublic: ed25519Public(role === "patient" ? physicianSeed : patientSeed),
    patientRatchetPrivate: role === "patient" ? epPrivate.slice() : null,
    physicianRatchetPrivate: role === "patient" ? null : edPrivate.slice(),
  });
  return { patient: fromPairing(secrets("patient")), physician: fromPairing(secrets("physician")),
    patientSeed, physicianSeed };
}

/** The real v3 send (web/src/protocol) on the keystore's copy of the pairing's session. */
function sendV3(id: string, text: string, showFirst: boolean): Promise<string> {
  return need().transactPairing(id, async (session, record) => {
    const seed = unb64(record["identity_seed"] as string);
    try {
      const sent = encrypt(session as unknown as SessionDocument, seed, te.encode(text), { now: new Date() });
      if (showFirst) await window.show!(sent.token);
      return { session: sent.state as unknown as Json, output: sent.token };
    } finally {
      wipe(seed);
    }
  });
}

const T = {
  /** Pair for real: the patient's session goes into the keystore, the physician's to Python. */
  pairV3: (id: string) => wrapCall(async () => {
    const pair = makeV3Pair(id);
    await need().installSession(id, pair.patient as unknown as Json,
      { label: `pairing ${id}`, identity_seed: b64(pair.patientSeed) });
    return { physician: pair.physician, physicianSeed: b64(pair.physicianSeed) };
  }),
  sendV3: (id: string, text: string) => wrapCall(() => sendV3(id, text, false)),
  sendV3ThenShow: (id: string, text: string) => wrapCall(async () => {
    const token = await sendV3(id, text, false);
    await window.show!(token);
    return token;
  }),
  sendV3ShowFirst: (id: string, text: string) => wrapCall(() => sendV3(id, text, true)),
  /** The physician (state held by Python) opens a token: new state, index, chain and text. */
  peerOpen: (state: SessionDocument, token: string) => wrapCall(async () => {
    const { state: next, opened } = await decrypt(state, token, { now: new Date() });
    return { state: next, index: opened.index, chainId: b64(opened.chainId),
      text: new TextDecoder().decode(opened.body) };
  }),

  ready: () => wrapCall(() => ready()),
  exists: () => wrapCall(() => Keystore.exists()),
  create: (pass: string, fast = true, replace = false) => wrapCall(async () => {
    const made = await Keystore.create(pass, { role: "patient" }, { profile: profile(fast), replace });
    store = made.store;
    return { storage: made.storage };
  }),
  unlock: (pass: string, fast = true) => wrapCall(async () => {
    store = await Keystore.unlock(pass, { profile: profile(fast) });
    return true;
  }),
  /** Unlock and report the milliseconds it took (the benchmark's browser side). */
  timedUnlock: (pass: string) => wrapCall(async () => {
    const t0 = performance.now();
    store = await Keystore.unlock(pass, { profile: PROFILE });
    const ms = performance.now() - t0;
    store.lock();
    store = null;
    return ms;
  }),
  lock: () => wrapCall(() => { need().lock(); }),
  unlocked: () => wrapCall(() => store?.unlocked ?? false),
  doc: () => wrapCall(() => need().document),
  addPairing: (id: string) => wrapCall(() =>
    need().installSession(id, { chain_key: b64(randomBytes(32)), n: 0 }, { label: `pairing ${id}` })),
  setSession: (id: string, session: Json) => wrapCall(() => need().installSession(id, session)),
  needsRepair: (id: string) => wrapCall(() => need().needsRepair(id)),
  sessionOf: (id: string) => wrapCall(() => sessionOf(need().document as KeystoreDocument, id)),
  exportDue: () => wrapCall(() => need().exportDue()),
  /** One ratchet step, committed before the token is returned (the product's order). */
  step: (id: string) => wrapCall(() => need().transactPairing(id, (session) => {
    const { session: next, token } = chainStep(session);
    return { session: next, output: token };
  })),
  /** The product's order, then "show": the Python binding `show` sees the token. */
  stepThenShow: (id: string) => wrapCall(async () => {
    const token = await need().transactPairing(id, (session) => {
      const { session: next, token: t } = chainStep(session);
      return { session: next, output: t };
    });
    await window.show!(token);
    return token;
  }),
  /** The misuse commit-before-show forbids: showing inside the step, before the commit. */
  showThenCommit: (id: string) => wrapCall(() => need().transactPairing(id, async (session) => {
    const { session: next, token } = chainStep(session);
    await window.show!(token);
    return { session: next, output: token };
  })),
  /** Fault injection: every IndexedDB put from now on throws (a full or failing disk). */
  breakWrites: () => wrapCall(() => {
    IDBObjectStore.prototype.put = function put(): IDBRequest {
      throw new DOMException("injected write failure", "QuotaExceededError");
    };
  }),
  exportSealed: (pass: string, fast = true) => wrapCall(async () =>
    b64(await need().exportSealed(pass, { profile: profile(fast) }))),
  restore: (data: string, pass: string, fast = true, replace = false) => wrapCall(async () => {
    const r = await Keystore.restore(unb64(data), pass, { profile: profile(fast), replace });
    store = r.store;
    return { needRepair: r.needRepair, exportedAt: r.exportedAt, storage: r.storage };
  }),
  openExport: (data: string, pass: string) => wrapCall(() => {
    const opened = openExport(unb64(data), pass);
    return { exportedAt: opened.exportedAt, document: opened.document };
  }),
  /** The sealed record as IndexedDB holds it (what a script, or a copy of the value, gets). */
  rawRecord: () => wrapCall(async () => {
    const db = await openDatabase();
    try {
      const rec = await get<{ sealed: Uint8Array }>(db, "keystore");
      return rec === undefined ? null : b64(rec.sealed);
    } finally {
      db.close();
    }
  }),
  /** Plant a sealed record (the value copied from another browser) in this profile. */
  plantRecord: (data: string) => wrapCall(async () => {
    const db = await openDatabase();
    try {
      await putAll(db, [["keystore", { version: 1, sealed: unb64(data) }]]);
    } finally {
      db.close();
    }
  }),
  /** The passphrase-sealed inner blob (unwrapped with this browser's key). */
  innerBlob: () => wrapCall(async () => {
    const db = await openDatabase();
    try {
      const rec = await get<{ sealed: Uint8Array }>(db, "keystore");
      const key = await get<CryptoKey>(db, "device-key");
      return b64(await unwrap(key!, rec!.sealed));
    } finally {
      db.close();
    }
  }),
  /** Whether the stored CryptoKey says it is non-extractable, and that export fails. */
  deviceKeyFacts: () => wrapCall(async () => {
    const db = await openDatabase();
    try {
      const key = (await get<CryptoKey>(db, "device-key"))!;
      let exported = false;
      try {
        await crypto.subtle.exportKey("raw", key);
        exported = true;
      } catch { /* expected */ }
      return { extractable: key.extractable, algorithm: key.algorithm.name, exported };
    } finally {
      db.close();
    }
  }),
  /** Open an MCKS blob (e.g. written by the Python CLI) and return its document text. */
  openInner: (data: string, pass: string) => wrapCall(() => {
    const { key, padded } = SealingKey.unlock(MAGIC_KEYSTORE, pass, unb64(data));
    key.wipe();
    return new TextDecoder().decode(padded).trimEnd();
  }),
  canonical: (value: Json) => wrapCall(() => canonicalJson(value)),
  /** `n` passphrases drawn as the setup screen draws them (the OS RNG, this browser). */
  generate: (language: WordLanguage, n: number) => wrapCall(async () => {
    const out: { words: readonly string[]; canonical: string }[] = [];
    for (let i = 0; i < n; i += 1) {
      const drawn = await generatePassphrase(language);
      out.push({ words: drawn.words, canonical: drawn.canonical });
    }
    return out;
  }),
  /** An export sealed under any passphrase, as one made before passphrases were drawn. */
  legacyExport: (pass: string) => wrapCall(() =>
    b64(sealExport(newDocument({ role: "patient" }), pass, new Date().toISOString(), PROFILE_TEST_MINIMUM))),
  persistence: () => wrapCall(() => currentPersistence()),
  webkitPurges: (userAgents: string[]) => wrapCall(() => userAgents.map(isWebKitPurgingBrowser)),
};

await ready(); // libsodium's WASM, before any test call (base64 helpers included)
window.T = T;
document.title = "keystore-test-ready";
