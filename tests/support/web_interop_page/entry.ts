/**
 * The interop load test's page functions (tests/web/test_interop_bot.py): the web app's
 * own thread transactions (web/src/app/flows/thread-store.ts) on the keystore the app
 * set up in this origin, without the thread screen around them.
 *
 * Why not the screen: it redraws and Chromium lays out every line of the thread after
 * each message, and that cost grows with the thread (measured in the test's docstring);
 * these functions are exactly what the screen's "Lock" and "Open" call - `seal`, and
 * `collect` then `open` per whole token, each one keystore transaction committed before
 * its output is returned - so the bytes and the ratchet state are the app's.
 */
import { findTokens } from "../../../web/src/app/inbound.js";
import { collect, open, seal, type Platform } from "../../../web/src/app/flows/thread-store.js";
import { errorCode } from "../../../web/src/app/flows/vault.js";
import { Keystore } from "../../../web/src/keystore/index.js";
import { PartAssembler } from "../../../web/src/protocol/parts.js";

let store: Keystore | null = null;
const assemblers = new Map<string, PartAssembler>();
const now = (): Date => new Date();

function unlocked(): Keystore {
  if (store === null) throw new Error("unlock first");
  return store;
}

const api = {
  async unlock(passphrase: string): Promise<void> {
    store = await Keystore.unlock(passphrase);
  },
  /** Seal each text as the screen's "Lock" does; the pieces handed off per text. */
  async seal(id: string, texts: string[], platform: Platform): Promise<string[][]> {
    const out: string[][] = [];
    for (const text of texts) out.push(await seal(unlocked(), id, text, platform, now));
    return out;
  },
  /** Open pasted chat text as the screen's "Open" does; the texts shown, or the code. */
  async paste(id: string, text: string): Promise<{ shown: string[]; error: string | null }> {
    let assembler = assemblers.get(id);
    if (assembler === undefined) {
      assembler = new PartAssembler();
      assemblers.set(id, assembler);
    }
    const shown: string[] = [];
    try {
      for (const token of collect(assembler, findTokens(text))) {
        shown.push((await open(unlocked(), id, token, now)).text);
      }
    } catch (e) {
      return { shown, error: errorCode(e) };
    }
    return { shown, error: null };
  },
  lock(): void {
    store?.lock();
    store = null;
  },
};

(globalThis as unknown as { medcryptInterop: typeof api }).medcryptInterop = api;
document.documentElement.dataset["interop"] = "ready";
