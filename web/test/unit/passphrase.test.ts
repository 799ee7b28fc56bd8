/**
 * The generated keystore passphrase (web/src/keystore/passphrase.ts, ADR 0042): the word
 * lists are what the strength claim assumes, the draw is uniform and in range, what a
 * person types folds back to the one canonical form (seeded property loops: random case,
 * accents, spacing and numbering), nothing else does, and the fold never throws.
 * Deterministic: the random inputs come from SHA-256 in counter mode over a fixed seed.
 */

import assert from "node:assert/strict";
import { test } from "node:test";

import * as p from "../../src/crypto/primitives.js";
import { KeystoreError } from "../../src/keystore/errors.js";
import {
  canonicalOf, foldWords, generatePassphrase, generatedLanguage, LIST_SIZE, requireGenerated,
  WORD_COUNT, WORD_LANGUAGES, wordList,
} from "../../src/keystore/passphrase.js";

/** Seeded bytes: SHA-256(seed || counter). */
function stream(seed: string): (n: number) => number {
  let counter = 0;
  let pool: Uint8Array = new Uint8Array(0);
  const s = new TextEncoder().encode(seed);
  return (bound: number) => {
    if (pool.length < 4) {
      const c = new Uint8Array(8);
      new DataView(c.buffer).setUint32(4, counter++);
      pool = p.concat(pool, p.sha256(p.concat(s, c)));
    }
    const v = new DataView(pool.buffer, pool.byteOffset).getUint32(0);
    pool = pool.slice(4);
    return v % bound; // test input only: a small bias does not matter here
  };
}

const SEPARATORS = [" ", "  ", "\n", "\t", "-", ", ", " . ", "\u00a0", "\u3000", "_"];

/** How a person might type `words` back: any case, accents or not, any separators, numbered. */
function typedLike(words: readonly string[], r: (n: number) => number): string {
  const numbered = r(4) === 0;
  const out = words.map((w, i) => {
    let word = r(2) === 0 ? w.normalize("NFD").replace(/\p{M}/gu, "") : w;
    if (r(3) === 0) word = word.normalize("NFD");
    word = Array.from(word).map((ch) => (r(2) === 0 ? ch.toUpperCase() : ch)).join("");
    return (numbered ? `${i + 1}. ` : "") + word;
  });
  let text = "";
  out.forEach((w, i) => {
    text += (i === 0 ? (r(3) === 0 ? " " : "") : SEPARATORS[r(SEPARATORS.length)]) + w;
  });
  return text + (r(3) === 0 ? "\n" : "");
}

test("each list has 2048 words, distinct after folding, letters a-z only once folded", async () => {
  for (const language of WORD_LANGUAGES) {
    const list = await wordList(language);
    assert.equal(list.length, LIST_SIZE);
    const folded = list.map(canonicalOf);
    assert.equal(new Set(folded).size, LIST_SIZE, `${language}: two words fold to one`);
    for (const [i, f] of folded.entries()) assert.match(f, /^[a-z]+$/, `${language} word ${i}`);
    for (const w of list) assert.equal(w, w.normalize("NFC"));
  }
});

test("a drawn passphrase: five list words, its canonical form, its language", async () => {
  for (const language of WORD_LANGUAGES) {
    const list = await wordList(language);
    const drawn = await generatePassphrase(language);
    assert.equal(drawn.words.length, WORD_COUNT);
    for (const w of drawn.words) assert.ok(list.includes(w));
    assert.equal(drawn.canonical, drawn.words.map(canonicalOf).join(" "));
    assert.equal(await generatedLanguage(drawn.canonical), language);
    await requireGenerated(drawn.canonical);
  }
});

test("the words are the draws: recorded draws give the listed words", async () => {
  const draws = [0, 1, 1024, 2046, 2047];
  const list = await wordList("en");
  const drawn = await generatePassphrase("en", () => draws.shift() as number);
  assert.deepEqual(drawn.words, [list[0], list[1], list[1024], list[2046], list[2047]]);
  await assert.rejects(generatePassphrase("en", () => 2048), RangeError);
  await assert.rejects(generatePassphrase("en", () => -1), RangeError);
});

test("the OS draw is in range and spread evenly (libsodium randombytes_uniform)", async () => {
  await p.ready();
  const buckets = new Array<number>(16).fill(0);
  const n = 40_000;
  for (let i = 0; i < n; i += 1) {
    const v = p.randomBelow(LIST_SIZE);
    assert.ok(Number.isInteger(v) && v >= 0 && v < LIST_SIZE);
    buckets[v >> 7] = (buckets[v >> 7] as number) + 1;
  }
  // Mean 2500 per bucket, standard deviation ~48: +-25 % is ~13 deviations.
  for (const b of buckets) assert.ok(b > 1875 && b < 3125, String(buckets));
  assert.throws(() => p.randomBelow(0), RangeError);
  assert.throws(() => p.randomBelow(1.5), RangeError);
});

test("property: any case, accents, spacing and numbering fold to the canonical form", async () => {
  const r = stream("medcrypt passphrase fold");
  for (const language of WORD_LANGUAGES) {
    for (let i = 0; i < 400; i += 1) {
      const drawn = await generatePassphrase(language, r);
      const typed = typedLike(drawn.words, r);
      assert.equal(canonicalOf(typed), drawn.canonical, JSON.stringify(typed));
    }
  }
});

test("property: a changed, dropped or extra word does not fold to the passphrase", async () => {
  const r = stream("medcrypt passphrase mismatch");
  for (const language of WORD_LANGUAGES) {
    const list = await wordList(language);
    for (let i = 0; i < 200; i += 1) {
      const drawn = await generatePassphrase(language, r);
      const words = [...drawn.words];
      const k = r(WORD_COUNT);
      const other = list[(list.indexOf(words[k] as string) + 1 + r(LIST_SIZE - 1)) % LIST_SIZE] as string;
      const changed = words.map((w, j) => (j === k ? other : w)).join(" ");
      assert.notEqual(canonicalOf(changed), drawn.canonical);
      assert.notEqual(canonicalOf(words.slice(1).join(" ")), drawn.canonical);
      assert.notEqual(canonicalOf(`${drawn.canonical} ${other}`), drawn.canonical);
      // A typo inside a word (one letter swapped for another) is a different passphrase.
      const w = canonicalOf(words[k] as string);
      const at = r(w.length);
      const letter = w[at] === "z" ? "a" : String.fromCharCode((w.charCodeAt(at) as number) + 1);
      const typo = words.map((x, j) => (j === k ? w.slice(0, at) + letter + w.slice(at + 1) : x)).join(" ");
      assert.notEqual(canonicalOf(typo), drawn.canonical);
    }
  }
});

test("fuzz: folding any text never throws and gives letter-only words", () => {
  const r = stream("medcrypt passphrase fuzz");
  for (let i = 0; i < 3000; i += 1) {
    const cps = Array.from({ length: r(40) }, () => {
      const pick = r(4);
      if (pick === 0) return r(0x80);
      if (pick === 1) return 0x80 + r(0x2f80);
      if (pick === 2) return 0xd800 + r(0x800); // lone surrogates
      return r(0x110000);
    });
    const text = cps.map((c) => (c >= 0xd800 && c < 0xe000 ? String.fromCharCode(c) : String.fromCodePoint(c))).join("");
    const words = foldWords(text);
    for (const w of words) {
      assert.ok(w.length > 0);
      assert.match(w, /^\p{L}+$/u);
    }
    assert.equal(canonicalOf(canonicalOf(text)), canonicalOf(text)); // idempotent
  }
});

test("a new seal refuses anything but a generated passphrase in canonical form", async () => {
  const drawn = await generatePassphrase("es", stream("refusals"));
  const en = await generatePassphrase("en", stream("refusals en"));
  const refused = [
    "", "password123", "quartz lantern orbit fennel", drawn.words.join(" "), // accents kept
    drawn.canonical.toUpperCase(), `${drawn.canonical} `, drawn.canonical.replace(" ", "  "),
    drawn.canonical.split(" ").slice(0, 4).join(" "), `${drawn.canonical} ${drawn.canonical.split(" ")[0]}`,
    [...drawn.canonical.split(" ").slice(0, 3), ...en.canonical.split(" ").slice(0, 2)].join(" "),
  ].filter((x) => x !== drawn.canonical || x === "");
  for (const pass of refused) {
    await assert.rejects(requireGenerated(pass), (e: unknown) =>
      e instanceof KeystoreError && e.code === "keystore_weak_passphrase", JSON.stringify(pass));
  }
  await requireGenerated(drawn.canonical);
  await requireGenerated(en.canonical);
});
