/**
 * One tab at a time: the unlocked keystore is held under an exclusive Web Lock for the
 * life of the tab, as the CLI holds an exclusive `flock` from unlock to close. Two tabs
 * that both read-modify-write the ratchet could each send with the same chain key (a
 * nonce and message-key reuse) or bring a shredded key back; with the lock, a second
 * tab cannot even read the sealed record.
 *
 * The lock is asked for with `ifAvailable`, so a second tab gets
 * `keystore_open_in_another_tab` at once instead of queueing silently behind the first.
 * The browser releases it when the tab closes, crashes or navigates away; a lock taken
 * by `steal` elsewhere rejects the held request, and the holder is told (`onLost`) so it
 * wipes its keys and stops.
 */

import { KeystoreError } from "./errors.js";

export const LOCK_NAME = "medcrypt-keystore";

export interface TabLock {
  /** Let the lock go (idempotent). */
  release(): void;
  /** False once released or lost. */
  readonly held: boolean;
}

/** Take the keystore's exclusive lock now, or throw `keystore_open_in_another_tab`. */
export async function acquireTabLock(onLost: () => void): Promise<TabLock> {
  const locks = globalThis.navigator?.locks;
  if (locks === undefined) throw new KeystoreError("keystore_unsupported", "no Web Locks");
  let releaseFn: () => void = () => undefined;
  const released = new Promise<void>((resolve) => {
    releaseFn = resolve;
  });
  let held = false;
  const state: TabLock = {
    release() {
      held = false;
      releaseFn();
    },
    get held() {
      return held;
    },
  };
  const acquired = new Promise<boolean>((resolve, reject) => {
    locks.request(LOCK_NAME, { mode: "exclusive", ifAvailable: true }, async (lock) => {
      if (lock === null) {
        resolve(false);
        return;
      }
      held = true;
      resolve(true);
      await released; // held until release() or the tab goes away
    }).catch((e: unknown) => {
      // Stolen (AbortError) or the document went away: the holder must stop at once.
      const wasHeld = held;
      held = false;
      if (wasHeld) onLost();
      else reject(e instanceof Error ? e : new Error("Web Locks request failed"));
    });
  });
  if (!(await acquired)) throw new KeystoreError("keystore_open_in_another_tab");
  return state;
}
