/**
 * The web keystore's passphrase is generated, not chosen (docs/adr/0042-generated-web-
 * passphrase.md): WORD_COUNT words drawn uniformly with the OS CSPRNG (libsodium's
 * `randombytes_uniform`) from a BIP-39 list of 2,048 words in the user's language
 * (`@scure/bip39`'s English or Spanish list), so the passphrase is one of 2^55 equally
 * likely ones whatever the attacker knows about people. The CLI's floor is a zxcvbn
 * score of 2 (10^6 guesses or more, ADR 0003); this is ~3.6 * 10^16. Rating a chosen
 * passphrase in the browser took zxcvbn and its ~390 KiB of dictionaries; drawing one
 * takes two 6 KiB word lists, and they load only on the setup screen.
 *
 * What Argon2id is given (the "canonical" form): the words lowercased, accents dropped,
 * one space between. Typing it back is forgiving in exactly the ways that cannot make
 * two passphrases collide: case, accents (BIP-39's Spanish list is unique without
 * them, a test checks), and any run of spaces, line breaks, hyphens, commas or digits
 * between words ("1. ábaco 2. ..." copied from a numbered list). A keystore made with a
 * generated passphrase records that in its `meta` record, so `Keystore.unlock` folds
 * what was typed; one restored from a chosen passphrase unlocks exactly as typed.
 */

import { randomBelow, ready } from "../crypto/primitives.js";
import { KeystoreError } from "./errors.js";

/** 5 words * 11 bits = 55 bits: 2^55 ~ 3.6e16 equally likely passphrases. */
export const WORD_COUNT = 5;
export const LIST_SIZE = 2048;
/** How `meta.passphrase_form` marks a keystore sealed under a generated passphrase. */
export const GENERATED_FORM = "words";

export type WordLanguage = "en" | "es";
export const WORD_LANGUAGES: readonly WordLanguage[] = ["en", "es"];

export interface GeneratedPassphrase {
  readonly language: WordLanguage;
  /** The words as the list spells them (NFC, accents kept): what the screen shows. */
  readonly words: readonly string[];
  /** What Argon2id is given, and what the user's typing folds to. */
  readonly canonical: string;
}

/** A draw in [0, bound): the OS by default; tests may pass a recorded sequence. */
export type Draw = (bound: number) => number;

const lists = new Map<WordLanguage, readonly string[]>();

/**
 * The BIP-39 list of `language`, NFC (the package ships NFKD, as BIP-39 does). Loaded
 * on demand: the bundler puts the lists in their own chunk, which unlock never fetches.
 */
export async function wordList(language: WordLanguage): Promise<readonly string[]> {
  let list = lists.get(language);
  if (list === undefined) {
    const mod = language === "es"
      ? await import("@scure/bip39/wordlists/spanish.js")
      : await import("@scure/bip39/wordlists/english.js");
    list = Object.freeze(mod.wordlist.map((w: string) => w.normalize("NFC")));
    if (list.length !== LIST_SIZE) throw new Error(`the ${language} word list has ${list.length} words`);
    lists.set(language, list);
  }
  return list;
}

/**
 * What the user typed, as words: compatibility-decomposed, lowercased, accents dropped,
 * split on every run of characters that are not letters. Pure and total: any string in,
 * a list of non-empty letter-only words out.
 */
export function foldWords(typed: string): string[] {
  const folded = typed.normalize("NFKD").toLowerCase().normalize("NFKD").replace(/\p{M}+/gu, "");
  return folded.split(/[^\p{L}]+/u).filter((w) => w.length > 0);
}

/** The canonical form of what was typed (see the module comment). */
export function canonicalOf(typed: string): string {
  return foldWords(typed).join(" ");
}

/** A new passphrase of WORD_COUNT words from `language`'s list. */
export async function generatePassphrase(language: WordLanguage, draw?: Draw): Promise<GeneratedPassphrase> {
  const list = await wordList(language);
  await ready();
  const pick = draw ?? randomBelow;
  const words: string[] = [];
  for (let i = 0; i < WORD_COUNT; i += 1) {
    const index = pick(LIST_SIZE);
    if (!Number.isInteger(index) || index < 0 || index >= LIST_SIZE) throw new RangeError("draw out of range");
    words.push(list[index] as string);
  }
  return { language, words, canonical: canonicalOf(words.join(" ")) };
}

/** The list `canonical` was drawn from, or null when it is not a generated passphrase. */
export async function generatedLanguage(canonical: string): Promise<WordLanguage | null> {
  const words = canonical.split(" ");
  if (words.length !== WORD_COUNT || canonicalOf(canonical) !== canonical) return null;
  for (const language of WORD_LANGUAGES) {
    const folded = new Set((await wordList(language)).map(canonicalOf));
    if (words.every((w) => folded.has(w))) return language;
  }
  return null;
}

/**
 * The rule for every new seal (a new keystore, an export): the passphrase must be a
 * generated one in canonical form, or `keystore_weak_passphrase`. This checks the shape
 * only; the strength comes from the draw, and the app offers no other way to make one.
 */
export async function requireGenerated(passphrase: string): Promise<void> {
  if (passphrase.length === 0) throw new KeystoreError("keystore_weak_passphrase", "empty");
  if ((await generatedLanguage(passphrase)) === null) {
    throw new KeystoreError("keystore_weak_passphrase", "not a generated passphrase in canonical form");
  }
}
