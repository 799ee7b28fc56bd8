/** The decrypt benchmark in a page: fixture inline, `window.__benchRound(N)` once ready. */

import { type Fixture, prepare } from "./decrypt.js";

declare global {
  interface Window {
    __benchRound?: (n: number) => Promise<number>;
    __benchError?: string;
  }
}

const text = document.getElementById("fixture")?.textContent ?? "";
prepare(JSON.parse(text) as Fixture, () => performance.now()).then(
  (bench) => { window.__benchRound = (n) => bench.round(n); },
  (error: unknown) => { window.__benchError = String(error); },
);
