/**
 * Where one 4 KiB v3 decrypt spends its time, step by step (bench/web_decrypt_profile.py
 * runs it in Node and headless Chromium; issue 14's decrypt goal).
 *
 * Each step is the same call `decrypt` makes, on the same fixture (the bench's physician
 * document and token), timed alone in a loop after a warm-up. The steps overlap on
 * purpose (the envelope open contains the SHA-256 and the verification): the table is
 * read against the whole decrypt, not summed. The WebCrypto rows are the candidates, each
 * call awaited before the next as the protocol would have to.
 */

import sodium from "libsodium-wrappers-sumo";

import { webcryptoVerifier } from "../src/crypto/peer-verifier.js";
import * as p from "../src/crypto/primitives.js";
import { LABEL_V3, open as openEnvelope } from "../src/protocol/envelope.js";
import { decodeToken } from "../src/protocol/text.js";
import { decrypt, shredDue } from "../src/protocol/v3session.js";
import type { SessionDocument } from "../src/protocol/v3state.js";
import { b64d, b64e } from "../src/protocol/v3state.js";
import { chainStep } from "../src/protocol/v3kdf.js";
import { parseMessage } from "../src/protocol/v3wire.js";
import type { Fixture } from "./decrypt.js";

export interface StepTime {
  readonly step: string;
  /** Median microseconds per call over the rounds. */
  readonly us: number;
}

type Step = [string, () => unknown];
type AsyncStep = [string, () => Promise<unknown>];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** WebCrypto's BufferSource type wants an ArrayBuffer-backed view; ours are. */
const buf = (u: Uint8Array): Uint8Array<ArrayBuffer> => u as Uint8Array<ArrayBuffer>;

function recvChainKey(state: SessionDocument, chainId: Uint8Array, epoch: number): Uint8Array {
  const recv = state["recv"] as { chain_id: string; segments: Record<string, { chain_key: string }> }[];
  const chain = recv.find((c) => c.chain_id === b64e(chainId));
  const segment = chain?.segments[String(epoch)];
  if (segment === undefined) {
    throw new Error("the fixture's chain is not in the state");
  }
  return b64d(segment.chain_key, 32);
}

/** Time every step; `rounds` medians of `number` calls each (after `warmMs` of warm-up). */
export async function profile(fixture: Fixture, clock: () => number, rounds = 7, number = 200,
  warmMs = 1500): Promise<StepTime[]> {
  await p.ready();
  const now = new Date(fixture.now);
  const { state, token } = fixture;
  const raw = decodeToken(token);
  const msg = parseMessage(raw);
  const h = msg.header;
  const [mk] = chainStep(recvChainKey(state, h.chainId, h.epoch));
  const inner = p.xchachaDecrypt(mk, h.nonce, msg.body, h.raw);
  const bodyLen = new DataView(inner.buffer, inner.byteOffset).getUint32(10, false);
  const fixed = inner.subarray(0, 14);
  const body = inner.subarray(14, 14 + bodyLen);
  const signature = inner.subarray(14 + bodyLen, 14 + bodyLen + 64);
  const signed = p.concat(LABEL_V3, h.raw, p.sha256(p.concat(fixed, body)));
  const peer = b64d(state["peer_identity"], 32);
  if (!p.ed25519Verify(peer, signed, signature)) {
    throw new Error("the fixture's signature does not verify");
  }
  const subtle = globalThis.crypto.subtle;
  let webcryptoKey: CryptoKey | null = null;
  let webcryptoError = "";
  try {
    webcryptoKey = await subtle.importKey("raw", buf(peer), { name: "Ed25519" }, false, ["verify"]);
    if (!await subtle.verify({ name: "Ed25519" }, webcryptoKey, buf(signature), buf(signed))) {
      webcryptoError = "WebCrypto Ed25519 refused a valid signature";
    }
  } catch (error) {
    webcryptoError = String(error);
  }
  const hmacKey = await subtle.importKey("raw", buf(mk), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const one = new Uint8Array([1]);

  const sync: Step[] = [
    ["  document load + export (shredDue, nothing due)", () => shredDue(state, now)],
    ["  decodeToken: base64 of the token", () => decodeToken(token)],
    ["  parseMessage", () => parseMessage(raw)],
    ["  chainStep: 2 HMAC-SHA256 (libsodium)", () => chainStep(mk)],
    ["  XChaCha20-Poly1305 open, 4 KiB (libsodium)", () => p.xchachaDecrypt(mk, h.nonce, msg.body, h.raw)],
    ["  envelope open (SHA-256, Ed25519, UTF-8)", () => openEnvelope(h.raw, inner, peer, LABEL_V3)],
    ["    SHA-256 of the 4 KiB body (libsodium)", () => p.sha256(p.concat(fixed, body))],
    ["    Ed25519 verify (libsodium)", () => p.ed25519Verify(peer, signed, signature)],
    ["    is_valid_point(A), a strictness pre-check (libsodium)", () => sodium.crypto_core_ed25519_is_valid_point(peer)],
  ];
  const native = (Uint8Array as unknown as { fromBase64?: (t: string, o: object) => Uint8Array }).fromBase64;
  if (native !== undefined) {
    const payload = token.slice(13, -1);
    const padded = payload + "=".repeat((4 - (payload.length % 4)) % 4);
    sync.push(["  Uint8Array.fromBase64 of the token (the platform's codec)",
      () => native(padded, { lastChunkHandling: "strict" })]);
  }
  const asynchronous: AsyncStep[] = [
    ["decrypt, whole (load, plan, AEAD, verify, export)", async () => decrypt(state, token, { now })],
    ["    HMAC-SHA256 (WebCrypto, key imported once)", () => subtle.sign("HMAC", hmacKey, buf(one))],
  ];
  if (webcryptoKey !== null) {
    const key = webcryptoKey;
    asynchronous.push(
      ["    Ed25519 verify (WebCrypto, key imported once)", () => subtle.verify({ name: "Ed25519" }, key, buf(signature), buf(signed))],
      ["    peer verifier made: is_valid_point + importKey (once per key)", () => webcryptoVerifier(peer)],
      ["    Ed25519 importKey + verify (WebCrypto)", async () => subtle.verify({ name: "Ed25519" },
        await subtle.importKey("raw", buf(peer), { name: "Ed25519" }, false, ["verify"]), buf(signature), buf(signed))],
    );
  }
  const until = clock() + warmMs;
  while (clock() < until) {
    for (const [, fn] of sync) fn();
    for (const [, fn] of asynchronous) await fn();
  }
  const samples = new Map<string, number[]>();
  for (let r = 0; r < rounds; r += 1) {
    for (const [name, fn] of sync) {
      const start = clock();
      for (let i = 0; i < number; i += 1) fn();
      samples.set(name, [...(samples.get(name) ?? []), ((clock() - start) * 1000) / number]);
    }
    for (const [name, fn] of asynchronous) {
      const start = clock();
      for (let i = 0; i < number; i += 1) await fn();
      samples.set(name, [...(samples.get(name) ?? []), ((clock() - start) * 1000) / number]);
    }
  }
  const out: StepTime[] = [...samples.entries()].map(([step, xs]) => ({ step, us: median(xs) }))
    .sort((x, y) => Number(y.step.startsWith("decrypt")) - Number(x.step.startsWith("decrypt")));
  if (webcryptoKey === null) {
    out.push({ step: `    Ed25519 in WebCrypto: unavailable (${webcryptoError})`, us: Number.NaN });
  } else if (webcryptoError) {
    out.push({ step: `    Ed25519 in WebCrypto: ${webcryptoError}`, us: Number.NaN });
  }
  return out;
}
