/**
 * The WebCrypto Ed25519 path (web/src/crypto/peer-verifier.ts, ADR 0044) gives libsodium's
 * strict verdict: every Wycheproof case, and the signatures a non-strict verifier
 * accepts, built here with libsodium's group operations:
 * - R = the identity, S = k·a: the platform's engine alone accepts it (the trap);
 * - a small-order public key with R = identity, S = 0: the engine alone accepts it;
 * - R with an order-8 component (only a cofactored verifier accepts it), S >= L.
 * The probe's constants are re-derived from their fixed scalars.
 */

import sodium from "libsodium-wrappers-sumo";

import ed25519File from "../../../tests/vectors/third_party/wycheproof_ed25519_test.json";
import {
  PROBE, libsodiumVerifier, peerVerifier, webcryptoEd25519Usable, webcryptoVerifier,
} from "../../src/crypto/peer-verifier.js";
import * as p from "../../src/crypto/primitives.js";
import { checkAsync, same, tally, type Tally } from "./harness.js";

const utf8 = new TextEncoder();
/** The identity point's canonical encoding (a plain array: libsodium loads later). */
const IDENTITY = Uint8Array.from([1, ...new Array<number>(31).fill(0)]);
/** A point of order 8 (from libsodium's small-order list). */
const T8_HEX = "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a";
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function scalar(label: string): Uint8Array {
  return sodium.crypto_core_ed25519_scalar_reduce(sodium.crypto_hash_sha512(utf8.encode(label)));
}

function challenge(r: Uint8Array, a: Uint8Array, m: Uint8Array): Uint8Array {
  return sodium.crypto_core_ed25519_scalar_reduce(sodium.crypto_hash_sha512(p.concat(r, a, m)));
}

function addL(s: Uint8Array): Uint8Array {
  let n = 0n;
  for (let i = 31; i >= 0; i -= 1) n = (n << 8n) | BigInt(s[i] as number);
  n += L;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i += 1) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** The probe's cases from their fixed scalars, as PROBE records them. */
export function deriveProbe(): { publicKey: string; message: string; valid: string; sPlusL: string; torsionR: string } {
  const s = sodium;
  const a = scalar("MEDCRYPT ed25519 probe key");
  const r = scalar("MEDCRYPT ed25519 probe nonce");
  const r2 = scalar("MEDCRYPT ed25519 probe torsion nonce");
  const message = utf8.encode("MEDCRYPT WebCrypto Ed25519 probe");
  const pk = s.crypto_scalarmult_ed25519_base_noclamp(a);
  const big = s.crypto_scalarmult_ed25519_base_noclamp(r);
  const sv = s.crypto_core_ed25519_scalar_add(r, s.crypto_core_ed25519_scalar_mul(challenge(big, pk, message), a));
  const tr = s.crypto_core_ed25519_add(s.crypto_scalarmult_ed25519_base_noclamp(r2), p.fromHex(T8_HEX));
  const st = s.crypto_core_ed25519_scalar_add(r2, s.crypto_core_ed25519_scalar_mul(challenge(tr, pk, message), a));
  return { publicKey: p.toHex(pk), message: p.toHex(message), valid: p.toHex(p.concat(big, sv)),
    sPlusL: p.toHex(p.concat(big, addL(sv))), torsionR: p.toHex(p.concat(tr, st)) };
}

async function rawWebCrypto(pk: Uint8Array, m: Uint8Array, sig: Uint8Array): Promise<boolean> {
  const subtle = globalThis.crypto.subtle;
  const key = await subtle.importKey("raw", pk as Uint8Array<ArrayBuffer>, { name: "Ed25519" }, false, ["verify"]);
  return subtle.verify({ name: "Ed25519" }, key, sig as Uint8Array<ArrayBuffer>, m as Uint8Array<ArrayBuffer>);
}

interface EdCase { tcId: number; msg: string; sig: string; result: string }
interface EdGroup { publicKey: { pk: string }; tests: EdCase[] }

export async function peerVerifierChecks(): Promise<Tally> {
  await p.ready();
  const t = tally("peer verifier (WebCrypto Ed25519 = libsodium's verdict)");
  await checkAsync(t, "the probe's constants are what their scalars give", async () => {
    const derived = deriveProbe();
    for (const k of ["publicKey", "message", "valid", "sPlusL", "torsionR"] as const) {
      same(PROBE[k], derived[k], `PROBE.${k}`);
    }
    const pk = p.fromHex(PROBE.publicKey);
    const m = p.fromHex(PROBE.message);
    same(p.ed25519IsPrimeOrderPoint(pk), true, "probe key is a prime-order point");
    same(p.ed25519Verify(pk, m, p.fromHex(PROBE.valid)), true, "libsodium accepts the valid case");
    same(p.ed25519Verify(pk, m, p.fromHex(PROBE.sPlusL)), false, "libsodium refuses S + L");
    same(p.ed25519Verify(pk, m, p.fromHex(PROBE.torsionR)), false, "libsodium refuses the torsion R");
    const tr = p.fromHex(PROBE.torsionR).subarray(0, 32);
    same(p.ed25519IsPrimeOrderPoint(tr), false, "the torsion R is outside the prime-order subgroup");
  });
  await checkAsync(t, "this platform's WebCrypto has Ed25519 and passes the probe", async () => {
    same(await webcryptoEd25519Usable(), true, "usable");
    same((await peerVerifier(p.fromHex(PROBE.publicKey))).engine, "webcrypto", "engine for a prime-order key");
  });
  const file = ed25519File as { testGroups: EdGroup[] };
  let viaWebCrypto = 0;
  for (const group of file.testGroups) {
    const pk = p.fromHex(group.publicKey.pk);
    await checkAsync(t, `wycheproof key ${group.publicKey.pk.slice(0, 16)}: every verdict is libsodium's`, async () => {
      const fast = await peerVerifier(pk);
      const slow = libsodiumVerifier(pk);
      viaWebCrypto += fast.engine === "webcrypto" ? 1 : 0;
      for (const c of group.tests) {
        const m = p.fromHex(c.msg);
        const sig = p.fromHex(c.sig);
        const want = c.result === "valid";
        same(await fast.verify(m, sig), want, `tcId ${c.tcId} (${fast.engine})`);
        same(await slow.verify(m, sig), want, `tcId ${c.tcId} (libsodium)`);
      }
    });
  }
  await checkAsync(t, "the Wycheproof keys went through WebCrypto", async () => {
    same(viaWebCrypto, file.testGroups.length, "groups verified by WebCrypto");
  });
  await checkAsync(t, "attack: R = identity, S = k·a - the engine alone accepts it, we refuse", async () => {
    const a = scalar("MEDCRYPT ed25519 probe key");
    const pk = p.fromHex(PROBE.publicKey);
    const m = utf8.encode("R is the identity");
    const sig = p.concat(IDENTITY, sodium.crypto_core_ed25519_scalar_mul(challenge(IDENTITY, pk, m), a));
    same(await rawWebCrypto(pk, m, sig), true, "the platform's engine accepts it (the trap)");
    same(p.ed25519Verify(pk, m, sig), false, "libsodium refuses it");
    same(await (await peerVerifier(pk)).verify(m, sig), false, "the peer verifier refuses it");
    same(await (await webcryptoVerifier(pk) as NonNullable<Awaited<ReturnType<typeof webcryptoVerifier>>>)
      .verify(m, sig), false, "the WebCrypto verifier itself refuses it");
  });
  await checkAsync(t, "attack: a small-order key signs anything - the engine alone accepts, we refuse", async () => {
    const m = utf8.encode("any message at all");
    const sig = p.concat(IDENTITY, new Uint8Array(32));
    same(await rawWebCrypto(IDENTITY, m, sig), true, "the platform's engine accepts it (the trap)");
    same(p.ed25519Verify(IDENTITY, m, sig), false, "libsodium refuses it");
    const v = await peerVerifier(IDENTITY);
    same(v.engine, "libsodium", "a small-order key never reaches WebCrypto");
    same(await v.verify(m, sig), false, "the peer verifier refuses it");
    same(await webcryptoVerifier(IDENTITY), null, "no WebCrypto verifier for it");
  });
  await checkAsync(t, "a key of mixed order stays with libsodium, verdicts unchanged", async () => {
    const mixed = sodium.crypto_core_ed25519_add(p.fromHex(PROBE.publicKey), p.fromHex(T8_HEX));
    same(p.ed25519IsPrimeOrderPoint(mixed), false, "mixed order");
    same((await peerVerifier(mixed)).engine, "libsodium", "engine");
  });
  await checkAsync(t, "torsion R and S + L are refused by every path", async () => {
    const pk = p.fromHex(PROBE.publicKey);
    const m = p.fromHex(PROBE.message);
    const v = await peerVerifier(pk);
    for (const bad of [PROBE.torsionR, PROBE.sPlusL]) {
      same(await v.verify(m, p.fromHex(bad)), false, "peer verifier");
      same(await rawWebCrypto(pk, m, p.fromHex(bad)), false, "engine");
    }
    same(await v.verify(m, p.fromHex(PROBE.valid)), true, "and the valid case passes");
    same(await v.verify(m, p.fromHex(PROBE.valid).subarray(0, 63)), false, "a short signature is false");
  });
  await checkAsync(t, "verifiers are cached per key", async () => {
    const pk = p.fromHex(PROBE.publicKey);
    same(peerVerifier(pk) === peerVerifier(pk.slice()), true, "same key, same verifier");
    same(peerVerifier(pk) === peerVerifier(IDENTITY), false, "another key, another verifier");
  });
  return t;
}
