/** The decrypt benchmark in a page: the fixture is inline JSON, the result `window.__bench`. */

import { type BenchResult, type Fixture, benchDecrypt } from "./decrypt.js";

declare global {
  interface Window {
    __bench?: BenchResult | { error: string };
  }
}

const text = document.getElementById("fixture")?.textContent ?? "";
benchDecrypt(JSON.parse(text) as Fixture, () => performance.now()).then(
  (result) => { window.__bench = result; },
  (error: unknown) => { window.__bench = { error: String(error) }; },
);
