/**
 * Decrypt of one v3 token, timed (bench/bench_web_decrypt.py drives it in Node and in
 * headless Chromium next to the Python companion's Session.decrypt, round by round).
 *
 * `decrypt` is pure, so the same (state, token) pair is opened again and again: each
 * call loads the session document, plans and checks the token, opens the AEAD,
 * verifies the envelope signature and exports the new document - the whole step the
 * app performs per message (minus IndexedDB). Each call is awaited before the next, as
 * the app's keystore transactions run one at a time. The peer's verifier (its WebCrypto
 * key, ADR 0044) is made at the first call and cached, as in the app, where a thread's
 * messages share it; bench/web_decrypt_profile.py prints what making it costs.
 */

import { ready } from "../src/crypto/primitives.js";
import { decrypt } from "../src/protocol/v3session.js";
import type { SessionDocument } from "../src/protocol/v3state.js";

export interface Fixture {
  state: SessionDocument;
  token: string;
  now: string;
}

export interface Bench {
  /** Per-operation microseconds of one round of `number` decrypts. */
  round(number: number): Promise<number>;
}

/**
 * Check the fixture opens, then warm up: WASM and JS tier up over the first second or
 * so (measured: rounds fall from ~2300 to ~350 us), and the Python anchor is measured
 * warm too.
 */
export async function prepare(fixture: Fixture, clock: () => number, warmMs = 1500): Promise<Bench> {
  await ready();
  const now = new Date(fixture.now);
  const opened = await decrypt(fixture.state, fixture.token, { now });
  if (opened.opened.body.length === 0) {
    throw new Error("the fixture token did not open");
  }
  const until = clock() + warmMs;
  while (clock() < until) {
    await decrypt(fixture.state, fixture.token, { now });
  }
  return {
    async round(number: number): Promise<number> {
      const start = clock();
      for (let i = 0; i < number; i += 1) {
        await decrypt(fixture.state, fixture.token, { now });
      }
      return ((clock() - start) * 1000) / number;
    },
  };
}
