/**
 * A tiny tally shared by the Node runner and the browser page, so one set of vector
 * checks runs in both: a check is a plain async function returning a {@link Tally}.
 * No test framework here on purpose (node:test does not run in a page).
 */

export interface Tally {
  readonly name: string;
  passed: number;
  readonly failures: string[];
}

export type VectorCheck = () => Promise<Tally>;

export function tally(name: string): Tally {
  return { name, passed: 0, failures: [] };
}

/** Run one case; a thrown error or a `false` result is recorded as a failure. */
export function check(t: Tally, label: string, fn: () => boolean | void): void {
  try {
    const result = fn();
    if (result === false) {
      t.failures.push(`${t.name}: ${label}`);
    } else {
      t.passed += 1;
    }
  } catch (error) {
    const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    t.failures.push(`${t.name}: ${label}: ${why}`);
  }
}

/** Async variant of {@link check}. */
export async function checkAsync(
  t: Tally, label: string, fn: () => Promise<boolean | void>,
): Promise<void> {
  try {
    const result = await fn();
    if (result === false) {
      t.failures.push(`${t.name}: ${label}`);
    } else {
      t.passed += 1;
    }
  } catch (error) {
    const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    t.failures.push(`${t.name}: ${label}: ${why}`);
  }
}

/** Throw unless `fn` throws an instance of `type` (used inside a check). */
export function expectThrow(type: abstract new (...args: never[]) => Error, fn: () => unknown): void {
  let thrown: unknown = null;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  if (thrown === null) {
    throw new Error(`expected ${type.name}, nothing was thrown`);
  }
  if (!(thrown instanceof type)) {
    const got = thrown instanceof Error ? thrown.name : typeof thrown;
    throw new Error(`expected ${type.name}, got ${got}`);
  }
}

export async function expectReject(
  type: abstract new (...args: never[]) => Error, fn: () => Promise<unknown>,
): Promise<void> {
  let thrown: unknown = null;
  try {
    await fn();
  } catch (error) {
    thrown = error;
  }
  if (thrown === null) {
    throw new Error(`expected ${type.name}, nothing was thrown`);
  }
  if (!(thrown instanceof type)) {
    const got = thrown instanceof Error ? thrown.name : typeof thrown;
    throw new Error(`expected ${type.name}, got ${got}`);
  }
}

/** Byte equality for checks, with the first differing offset in the error. */
export function sameBytes(got: Uint8Array, want: Uint8Array, what = "bytes"): void {
  if (got.length !== want.length) {
    throw new Error(`${what}: length ${got.length} != ${want.length}`);
  }
  for (let i = 0; i < got.length; i += 1) {
    if (got[i] !== want[i]) {
      throw new Error(`${what}: differs at byte ${i}`);
    }
  }
}

export function same<T>(got: T, want: T, what = "value"): void {
  if (got !== want) {
    throw new Error(`${what}: ${String(got)} != ${String(want)}`);
  }
}
