/** The step profile (bench/profile.ts) in a page: `window.__profile` once done. */

import type { Fixture } from "./decrypt.js";
import { type StepTime, profile } from "./profile.js";

declare global {
  interface Window {
    __profile?: StepTime[];
    __profileError?: string;
  }
}

const text = document.getElementById("fixture")?.textContent ?? "";
profile(JSON.parse(text) as Fixture, () => performance.now()).then(
  (steps) => { window.__profile = steps; },
  (error: unknown) => { window.__profileError = String(error); },
);
