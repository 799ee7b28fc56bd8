/**
 * The platform's base64 (`Uint8Array.fromBase64` / `toBase64`, used where it exists) gives
 * libsodium's bytes and libsodium's verdicts, variant by variant: on encodings of random
 * bytes, on those encodings mutated (a character swapped, dropped or added, padding and
 * whitespace added or removed) and on random strings (ADR 0044). In Chromium this
 * compares the two codecs; Node 20 has no native codec, so there both sides are
 * libsodium's and the check says so.
 */

import * as p from "../../src/crypto/primitives.js";
import { Stream } from "./fuzz.js";
import { check, same, tally, type Tally } from "./harness.js";

const VARIANTS: p.Base64Variant[] = ["standard", "standard-nopad", "url", "url-nopad"];
const CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_= \n\t\r\u00a0";

function verdict(fn: () => Uint8Array): string {
  try {
    return `ok:${p.toHex(fn())}`;
  } catch (error) {
    if (error instanceof Error && error.name === "MalformedToken") {
      return "refused";
    }
    throw error;
  }
}

function mutate(s: Stream, text: string): string {
  const at = text.length ? s.int(text.length) : 0;
  const c = CHARS.charAt(s.int(CHARS.length));
  switch (s.int(5)) {
    case 0: return text.slice(0, at) + c + text.slice(at + 1);
    case 1: return text.slice(0, at) + text.slice(at + 1);
    case 2: return text.slice(0, at) + c + text.slice(at);
    case 3: return `${text}${"=".repeat(1 + s.int(3))}`;
    default: return text.replace(/=+$/, "");
  }
}

export async function base64Codecs(): Promise<Tally> {
  await p.ready();
  const t = tally("base64: the platform's codec, where it has one, = libsodium's");
  check(t, "a browser page uses the platform's codec", () => {
    same(p.base64IsNative() || typeof document === "undefined", true, "native in a page");
  });
  const s = new Stream("MEDCRYPT base64 differential");
  let refused = 0;
  for (const v of VARIANTS) {
    check(t, `${v}: encode, decode, mutations and random strings agree`, () => {
      for (let i = 0; i < 600; i += 1) {
        const data = s.bytes(s.int(40));
        const text = p.toBase64(data, v);
        same(text, p.toBase64Sodium(data, v), "encoding");
        sameVerdict(text, v);
        const bad = mutate(s, text);
        refused += sameVerdict(bad, v) === "refused" ? 1 : 0;
        let random = "";
        for (let j = s.int(9); j > 0; j -= 1) random += CHARS.charAt(s.int(CHARS.length));
        sameVerdict(random, v);
      }
    });
  }
  check(t, "the mutations were mostly refused (the check is not vacuous)", () => {
    same(refused > 1000, true, `refused ${refused} of 2400`);
  });
  return t;
}

function sameVerdict(text: string, v: p.Base64Variant): string {
  const got = verdict(() => p.fromBase64(text, v));
  same(got, verdict(() => p.fromBase64Sodium(text, v)), `verdict on ${JSON.stringify(text)} (${v})`);
  return got;
}
