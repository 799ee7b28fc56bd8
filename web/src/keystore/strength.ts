/**
 * The passphrase floor of a new keystore (and of an export): the CLI's rule, with the
 * same estimator. companion/passphrase_strength.py rates with the `zxcvbn` package on
 * PyPI, a port of Dropbox's zxcvbn 4.4.2; here Dropbox's own JavaScript build, `zxcvbn`
 * 4.4.2 on npm, so both companions score with the same dictionaries and rules
 * (tests/web/keystore checks the scores agree on a list of passphrases).
 *
 * The rule, as in ADR 0003: score >= 2 ("fair", 10^6 guesses or more); only the first
 * 72 characters are rated (zxcvbn's matching is quadratic); the program's own words
 * count as known to the attacker.
 *
 * zxcvbn's dictionaries are ~400 KB gzipped, so the module is imported on demand: the
 * unlock path never loads it, as `medcrypt decrypt` never imports it (the bundler emits
 * it as its own chunk when splitting is on).
 */

import { KeystoreError } from "./errors.js";

export const MIN_SCORE = 2;
export const LABELS = ["very weak", "weak", "fair", "good", "strong"] as const;
export const MAX_RATED_CHARS = 72;
export const HINTS: readonly string[] = ["medcrypt", "companion", "keystore", "passphrase", "patient",
  "physician", "doctor", "clinic"];

export interface Strength {
  /** 0..4 */
  readonly score: number;
  /** zxcvbn's English feedback; the app shows its own translated line per score. */
  readonly warning: string;
  readonly suggestions: readonly string[];
}

/** zxcvbn's rating of `passphrase`; `hints` are words the attacker knows too. */
export async function estimate(passphrase: string, hints: readonly string[] = []): Promise<Strength> {
  const { default: zxcvbn } = await import("zxcvbn");
  // Code points, as Python slices them.
  const rated = Array.from(passphrase).slice(0, MAX_RATED_CHARS).join("");
  const result = zxcvbn(rated, [...HINTS, ...hints]);
  return {
    score: result.score,
    warning: result.feedback.warning ?? "",
    suggestions: [...(result.feedback.suggestions ?? [])],
  };
}

/** The rating, or `keystore_weak_passphrase` below "fair". */
export async function requireFair(passphrase: string, hints: readonly string[] = []): Promise<Strength> {
  if (passphrase.length === 0) throw new KeystoreError("keystore_weak_passphrase", "empty");
  const strength = await estimate(passphrase, hints);
  if (strength.score < MIN_SCORE) throw new KeystoreError("keystore_weak_passphrase");
  return strength;
}
