/**
 * Decrypt of one v3 token, timed (bench/bench_web_decrypt.py drives it in Node and in
 * headless Chromium next to the Python companion's Session.decrypt).
 *
 * `decrypt` is pure, so the same (state, token) pair is opened again and again: each
 * call loads the session document, plans and checks the token, opens the AEAD,
 * verifies the envelope signature and exports the new document - the whole step the
 * app performs per message (minus IndexedDB).
 */

import { ready } from "../src/crypto/primitives.js";
import { decrypt } from "../src/protocol/v3session.js";
import type { SessionDocument } from "../src/protocol/v3state.js";

export interface Fixture {
  state: SessionDocument;
  token: string;
  now: string;
  body_sha256: string;
}

export interface BenchResult {
  median_us: number;
  rounds_us: number[];
  number: number;
  token_chars: number;
}

export async function benchDecrypt(fixture: Fixture, clock: () => number, rounds = 9,
  number = 200): Promise<BenchResult> {
  await ready();
  const now = new Date(fixture.now);
  const opened = decrypt(fixture.state, fixture.token, { now });
  if (opened.opened.body.length === 0) {
    throw new Error("the fixture token did not open");
  }
  for (let i = 0; i < 50; i += 1) {
    decrypt(fixture.state, fixture.token, { now });
  }
  const samples: number[] = [];
  for (let r = 0; r < rounds; r += 1) {
    const start = clock();
    for (let i = 0; i < number; i += 1) {
      decrypt(fixture.state, fixture.token, { now });
    }
    samples.push(((clock() - start) * 1000) / number);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return { median_us: sorted[Math.floor(sorted.length / 2)] as number, rounds_us: samples, number,
    token_chars: fixture.token.length };
}
