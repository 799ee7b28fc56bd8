/**
 * Seeded fuzz loops for every parser the web companion adds: random bytes, random text
 * and mutated valid inputs must give a typed MedCryptError (never a TypeError,
 * RangeError or a bare Error), and a mutated token must never open. Deterministic:
 * the inputs come from SHA-256 in counter mode over a fixed seed, so a failure replays.
 */

import pairing from "../../../tests/vectors/v3_pairing.json";
import session from "../../../tests/vectors/v3_session.json";
import { MalformedToken, MedCryptError } from "../../src/crypto/errors.js";
import * as p from "../../src/crypto/primitives.js";
import { parseManifest } from "../../src/protocol/attachment.js";
import { parseOfferText } from "../../src/protocol/offer.js";
import { PartAssembler, joinParts, splitToken } from "../../src/protocol/parts.js";
import { decodeToken, encodeToken, findTokens } from "../../src/protocol/text.js";
import { decrypt } from "../../src/protocol/v3session.js";
import type { SessionDocument } from "../../src/protocol/v3state.js";
import { parseFileHeader, parseRaw, parseToken } from "../../src/protocol/wire.js";
import { check, checkAsync, same, tally, type Tally } from "./harness.js";

/** Deterministic test input: SHA-256(seed || counter) blocks. */
export class Stream {
  #counter = 0;
  #pool: Uint8Array = new Uint8Array(0);
  readonly #seed: Uint8Array;

  constructor(seed: string) {
    this.#seed = new TextEncoder().encode(seed);
  }

  bytes(n: number): Uint8Array {
    while (this.#pool.length < n) {
      const c = new Uint8Array(8);
      new DataView(c.buffer).setUint32(4, this.#counter++);
      this.#pool = p.concat(this.#pool, p.sha256(p.concat(this.#seed, c)));
    }
    const out = this.#pool.slice(0, n);
    this.#pool = this.#pool.slice(n);
    return out;
  }

  int(below: number): number {
    const b = this.bytes(4);
    return new DataView(b.buffer).getUint32(0) % below;
  }
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_[]: \n\u00a0\ufeff";

/** Run `fn`; anything thrown must be a MedCryptError. */
function typed(fn: () => unknown): "ok" | "refused" {
  try {
    fn();
    return "ok";
  } catch (error) {
    if (error instanceof MedCryptError) {
      return "refused";
    }
    throw new Error(`untyped ${error instanceof Error ? error.name : typeof error}: ${String(error)}`);
  }
}

/** {@link typed} for an async call (the v3 decrypt). */
async function typedAsync(fn: () => Promise<unknown>): Promise<"ok" | "refused"> {
  try {
    await fn();
    return "ok";
  } catch (error) {
    if (error instanceof MedCryptError) {
      return "refused";
    }
    throw new Error(`untyped ${error instanceof Error ? error.name : typeof error}: ${String(error)}`);
  }
}

function mutate(s: Stream, raw: Uint8Array): Uint8Array {
  const out = raw.slice();
  switch (s.int(4)) {
    case 0: {
      const i = s.int(out.length);
      out[i] = (out[i] ?? 0) ^ (1 + s.int(255));
      return out;
    }
    case 1:
      return out.subarray(0, s.int(out.length));
    case 2:
      return p.concat(out, s.bytes(1 + s.int(40)));
    default: {
      const i = s.int(out.length);
      return p.concat(out.subarray(0, i), out.subarray(i + 1));
    }
  }
}

export async function fuzzParsers(): Promise<Tally> {
  await p.ready();
  const t = tally("fuzz: parsers give typed errors");
  const s = new Stream("medcrypt web fuzz 1");
  const valid = [
    ...session.steps.map((x) => x.token), pairing.offer.registration_token,
    pairing.accept.accept_token, pairing.confirm.key_confirm_token,
  ];
  check(t, "random text as a token", () => {
    for (let i = 0; i < 3000; i += 1) {
      const len = s.int(120);
      let text = i % 2 ? "[MEDCRYPT:v3:" : "";
      for (let j = 0; j < len; j += 1) {
        text += ALPHABET.charAt(s.int(ALPHABET.length));
      }
      typed(() => parseToken(text));
      typed(() => findTokens(text).map((x) => parseToken(x)));
    }
  });
  check(t, "random binary tokens", () => {
    for (let i = 0; i < 3000; i += 1) {
      const raw = s.bytes(s.int(400));
      if (raw.length > 1 && i % 3 === 0) {
        raw[0] = 2 + s.int(2);
        raw[1] = 1 + s.int(8);
      }
      typed(() => parseRaw(raw));
      if (raw.length) {
        typed(() => parseToken(encodeToken(raw)));
      }
    }
  });
  check(t, "mutated valid tokens: text and binary", () => {
    for (let i = 0; i < 3000; i += 1) {
      const text = valid[i % valid.length] as string;
      const raw = decodeToken(text);
      typed(() => parseRaw(mutate(s, raw)));
      const j = s.int(text.length);
      const edited = text.slice(0, j) + ALPHABET.charAt(s.int(ALPHABET.length)) + text.slice(j + 1);
      typed(() => parseToken(edited));
    }
  });
  await checkAsync(t, "mutated v3 messages never open, and fail typed", async () => {
    const step = session.steps[0];
    if (step === undefined) {
      throw new Error("no step");
    }
    const state = JSON.parse(step.physician_state) as SessionDocument;
    const now = new Date(step.now);
    // The recorded state after the step already opened it: rebuild the one before.
    const before = JSON.parse(session.setup.physician_state) as SessionDocument;
    same((await decrypt(before, step.token, { now })).opened.body.length > 0, true, "the original opens");
    let refused = 0;
    for (let i = 0; i < 400; i += 1) {
      const raw = mutate(s, decodeToken(step.token));
      if (raw.length === 0) {
        continue;
      }
      const outcome = await typedAsync(() => decrypt(before, encodeToken(raw), { now }));
      // Only a mutation inside the deposit section (outside the AEAD, ignored) may open.
      if (outcome === "ok" && !(raw.length === decodeToken(step.token).length)) {
        throw new Error("a mutated token of another length opened");
      }
      refused += outcome === "refused" ? 1 : 0;
      await typedAsync(() => decrypt(state, encodeToken(raw), { now }));
    }
    same(refused > 300, true, "most mutations are refused");
  });
  check(t, "parts: random joins and splits", () => {
    for (let i = 0; i < 300; i += 1) {
      const text = valid[i % valid.length] as string;
      const limit = 46 + s.int(400);
      const parts = splitToken(text, limit, (n) => s.bytes(n));
      const shuffled = [...parts].sort(() => (s.int(2) ? 1 : -1));
      same(joinParts([...shuffled, ...(shuffled.length > 1 ? [shuffled[0] as string] : [])]),
        encodeToken(decodeToken(text)), "joined in any order with a duplicate");
      const assembler = new PartAssembler();
      for (const part of shuffled) {
        const raw = decodeToken(part);
        typed(() => assembler.add(encodeToken(mutate(s, raw).length ? mutate(s, raw) : raw)));
      }
    }
  });
  check(t, "offer text, manifest and file header", () => {
    const qr = pairing.offer.qr_text;
    for (let i = 0; i < 2000; i += 1) {
      const j = s.int(qr.length);
      const edited = qr.slice(0, j) + ALPHABET.charAt(s.int(ALPHABET.length)) + qr.slice(j + 1);
      typed(() => parseOfferText(edited));
      typed(() => parseManifest(s.bytes(s.int(200))));
      typed(() => parseFileHeader(s.bytes(s.int(60))));
    }
    // A cut of the offer text is always refused (the checksum or the length catch it).
    for (let j = 20; j < qr.length - 1; j += 7) {
      if (typed(() => parseOfferText(qr.slice(0, j))) !== "refused") {
        throw new Error("a truncated offer was accepted");
      }
    }
  });
  check(t, "text rules: Unicode spaces, padding, non-canonical bits are MalformedToken", () => {
    const text = valid[0] as string;
    for (const bad of [`\u00a0${text}`, `${text}\u2003`, `\ufeff${text}`, text.replace("]", "=]"),
      "[MEDCRYPT:v3:AwF]", `${text}\n${text}`]) {
      try {
        parseToken(bad);
      } catch (error) {
        if (error instanceof MalformedToken) {
          continue;
        }
        throw error;
      }
      throw new Error("accepted a non-canonical token text");
    }
    parseToken(` \t\n${text}\r\n`);
  });
  return t;
}

/** §4's whitespace around an offer text is ignored, as Python's str.strip() does. */
export async function offerWhitespace(): Promise<Tally> {
  await p.ready();
  const t = tally("offer text whitespace (PROTOCOL §4)");
  const qr = pairing.offer.qr_text;
  check(t, "Python's strip set is ignored around the text", () => {
    for (const ws of ["\n", "\r\n", " \t", "\u00a0", "\u3000", "\u2028", "\u001c", "\u0085"]) {
      same(parseOfferText(`${ws}${qr}${ws}`).expiresAt, parseOfferText(qr).expiresAt);
    }
  });
  check(t, "U+FEFF, U+200B and anything inside the text are refused", () => {
    for (const bad of [`\ufeff${qr}`, `${qr}\u200b`, qr.replace(":2:", ":2: "), `${qr.slice(0, 40)}\n${qr.slice(40)}`]) {
      if (typed(() => parseOfferText(bad)) !== "refused") {
        throw new Error("accepted a damaged offer text");
      }
    }
  });
  return t;
}
