/**
 * Third-party vectors through `web/src/crypto/primitives.ts`: the same files in
 * tests/vectors/third_party/ that tests/crypto/test_primitives.py reads.
 *
 * Expectations, on purpose: Ed25519 is strict RFC 8032 (every Wycheproof `invalid` is
 * refused, including small-order and non-canonical cases); X25519 refuses every
 * all-zero shared secret (Wycheproof calls those `acceptable`); AEADs refuse every
 * `invalid` case, including wrong nonce sizes, with a typed error.
 */

import chachaFile from "../../../tests/vectors/third_party/wycheproof_chacha20_poly1305_test.json";
import ed25519File from "../../../tests/vectors/third_party/wycheproof_ed25519_test.json";
import hkdfWycheproof from "../../../tests/vectors/third_party/wycheproof_hkdf_sha256_test.json";
import x25519File from "../../../tests/vectors/third_party/wycheproof_x25519_test.json";
import xchachaFile from "../../../tests/vectors/third_party/wycheproof_xchacha20_poly1305_test.json";
import hkdfRfc from "../../../tests/vectors/third_party/hkdf_rfc5869.json";
import draft from "../../../tests/vectors/third_party/xchacha_draft.json";
import { DecryptionFailed, MalformedToken } from "../../src/crypto/errors.js";
import * as p from "../../src/crypto/primitives.js";
import { check, expectThrow, sameBytes, same, tally, type Tally } from "./harness.js";

const hex = (s: string): Uint8Array => p.fromHex(s);
const utf8 = new TextEncoder();

interface AeadCase {
  tcId: number; key: string; iv: string; aad: string; msg: string; ct: string;
  tag: string; result: string;
}
interface AeadFile { testGroups: { tests: AeadCase[] }[] }

function aead(name: string, file: AeadFile, nonceLen: number,
  enc: typeof p.xchachaEncrypt, dec: typeof p.xchachaDecrypt): Tally {
  const t = tally(name);
  for (const group of file.testGroups) {
    for (const c of group.tests) {
      check(t, `tcId ${c.tcId}`, () => {
        const key = hex(c.key);
        const iv = hex(c.iv);
        const aad = hex(c.aad);
        const sealed = p.concat(hex(c.ct), hex(c.tag));
        if (c.result === "valid") {
          sameBytes(dec(key, iv, sealed, aad), hex(c.msg), "plaintext");
          sameBytes(enc(key, iv, hex(c.msg), aad), sealed, "ciphertext");
          return;
        }
        // invalid: a bad tag is DecryptionFailed; a bad nonce size is MalformedToken.
        const expected = iv.length === nonceLen ? DecryptionFailed : MalformedToken;
        expectThrow(expected, () => dec(key, iv, sealed, aad));
      });
    }
  }
  return t;
}

export async function wycheproofXChaCha(): Promise<Tally> {
  await p.ready();
  return aead("wycheproof xchacha20-poly1305", xchachaFile as AeadFile, 24,
    p.xchachaEncrypt, p.xchachaDecrypt);
}

export async function wycheproofChaCha(): Promise<Tally> {
  await p.ready();
  return aead("wycheproof chacha20-poly1305", chachaFile as AeadFile, 12,
    p.chachaIetfEncrypt, p.chachaIetfDecrypt);
}

export async function xchachaDraft(): Promise<Tally> {
  await p.ready();
  const t = tally("xchacha draft-03");
  for (const c of draft.aead_xchacha20_poly1305) {
    check(t, c.section, () => {
      const sealed = p.xchachaEncrypt(hex(c.key), hex(c.iv), hex(c.plaintext), hex(c.aad));
      sameBytes(sealed, p.concat(hex(c.ciphertext), hex(c.tag)), "sealed");
      sameBytes(p.xchachaDecrypt(hex(c.key), hex(c.iv), sealed, hex(c.aad)),
        hex(c.plaintext), "opened");
    });
  }
  return t;
}

interface XdhCase { tcId: number; public: string; private: string; shared: string; result: string }

export async function wycheproofX25519(): Promise<Tally> {
  await p.ready();
  const t = tally("wycheproof x25519");
  const file = x25519File as { testGroups: { tests: XdhCase[] }[] };
  for (const group of file.testGroups) {
    for (const c of group.tests) {
      check(t, `tcId ${c.tcId}`, () => {
        const zero = /^0+$/.test(c.shared);
        if (zero) {
          // Low-order peer key: refused on purpose, whatever Wycheproof calls it.
          expectThrow(MalformedToken, () => p.x25519Shared(hex(c.private), hex(c.public)));
          return;
        }
        if (c.result === "invalid") {
          throw new Error("no non-zero invalid case expected in this file");
        }
        sameBytes(p.x25519Shared(hex(c.private), hex(c.public)), hex(c.shared), "shared");
      });
    }
  }
  return t;
}

interface EdCase { tcId: number; msg: string; sig: string; result: string }
interface EdGroup { publicKey: { pk: string }; tests: EdCase[] }

export async function wycheproofEd25519(): Promise<Tally> {
  await p.ready();
  const t = tally("wycheproof ed25519 (strict)");
  const file = ed25519File as { testGroups: EdGroup[] };
  for (const group of file.testGroups) {
    const pk = hex(group.publicKey.pk);
    for (const c of group.tests) {
      check(t, `tcId ${c.tcId}`, () => {
        same(p.ed25519Verify(pk, hex(c.msg), hex(c.sig)), c.result === "valid", "verdict");
      });
    }
  }
  // RFC 8032 7.1 TEST 1: signing is deterministic and byte-exact.
  check(t, "RFC 8032 TEST 1 sign", () => {
    const seed = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    sameBytes(p.ed25519Public(seed),
      hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"), "public");
    sameBytes(p.ed25519Sign(seed, new Uint8Array(0)), hex(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
      + "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"), "signature");
  });
  return t;
}

interface HkdfCase { tcId: number; ikm: string; salt: string; info: string; size: number; okm: string; result: string }

export async function hkdf(): Promise<Tally> {
  await p.ready();
  const t = tally("hkdf-sha256 (RFC 5869, Wycheproof)");
  for (const c of hkdfRfc.tests) {
    if (c.hash !== "SHA-256") {
      continue;
    }
    check(t, c.rfcSection, () => {
      const salt = c.salt === null || c.salt === "" ? null : hex(c.salt);
      sameBytes(p.hkdfSha256(hex(c.ikm), salt, hex(c.info), c.L), hex(c.okm), "okm");
      sameBytes(p.hmacSha256(salt ?? new Uint8Array(32), hex(c.ikm)), hex(c.prk), "prk");
    });
  }
  const file = hkdfWycheproof as { testGroups: { tests: HkdfCase[] }[] };
  for (const group of file.testGroups) {
    for (const c of group.tests) {
      check(t, `wycheproof tcId ${c.tcId}`, () => {
        if (c.result === "invalid") {
          expectThrow(MalformedToken, () => p.hkdfSha256(hex(c.ikm), hex(c.salt), hex(c.info), c.size));
          return;
        }
        sameBytes(p.hkdfSha256(hex(c.ikm), hex(c.salt), hex(c.info), c.size), hex(c.okm), "okm");
      });
    }
  }
  return t;
}

/** Wrapper behaviour the vectors do not cover: sealed box round trip, secretstream. */
export async function wrappers(): Promise<Tally> {
  await p.ready();
  const t = tally("primitive wrappers");
  check(t, "sealed box with injected ephemeral opens with libsodium", () => {
    const sk = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    const pk = p.x25519Public(sk);
    const esk = hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    const sealed = p.sealedBoxSeal(pk, utf8.encode("deposit"), () => esk.slice());
    sameBytes(sealed.subarray(0, 32), p.x25519Public(esk), "ephemeral public");
    sameBytes(p.sealedBoxOpen(sk, sealed), utf8.encode("deposit"), "opened");
    sealed[40] = (sealed[40] ?? 0) ^ 1;
    expectThrow(DecryptionFailed, () => p.sealedBoxOpen(sk, sealed));
  });
  check(t, "secretstream push with chosen header is read by pull; truncation refused", () => {
    const key = p.randomBytes(32);
    const header = p.randomBytes(24);
    const push = new p.SecretStreamPush(key, header);
    const a = push.push(utf8.encode("one"), null, p.STREAM_TAG_MESSAGE);
    const b = push.push(utf8.encode("two"), null, p.STREAM_TAG_FINAL);
    const pull = new p.SecretStreamPull(key, header);
    same(new TextDecoder().decode(pull.pull(a, null).message), "one");
    const last = pull.pull(b, null);
    same(last.tag, p.STREAM_TAG_FINAL, "tag");
    const reorder = new p.SecretStreamPull(key, header);
    expectThrow(DecryptionFailed, () => reorder.pull(b, null));
  });
  check(t, "constant-time equality and wipe", () => {
    same(p.constantTimeEqual(hex("0102"), hex("0102")), true);
    same(p.constantTimeEqual(hex("0102"), hex("0103")), false);
    same(p.constantTimeEqual(hex("0102"), hex("010203")), false);
    const k = hex("ffff");
    p.wipe(k);
    sameBytes(k, hex("0000"));
  });
  check(t, "argon2id is libsodium's (RFC 9106-compatible output length and determinism)", () => {
    const salt = hex("000102030405060708090a0b0c0d0e0f");
    const a = p.argon2id(utf8.encode("pass"), salt, 2, 8192 * 1024);
    const b = p.argon2id(utf8.encode("pass"), salt, 2, 8192 * 1024);
    sameBytes(a, b);
    same(a.length, 32);
    expectThrow(MalformedToken, () => p.argon2id(utf8.encode("pass"), salt.subarray(1), 2, 8192 * 1024));
  });
  return t;
}

export const thirdPartyChecks = [
  wycheproofXChaCha, wycheproofChaCha, xchachaDraft, wycheproofX25519, wycheproofEd25519,
  hkdf, wrappers,
];
