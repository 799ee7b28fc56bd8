/**
 * The browser page's script: runs every vector check of web/test/vectors/ (the same
 * functions `npm test` runs under Node) and publishes the outcome for the harness
 * (tests/web/test_vectors_in_browser.py) as `window.__medcryptVectors`.
 */

import { allChecks } from "../vectors/index.js";

interface Outcome {
  passed: number;
  failed: number;
  checks: number;
  failures: string[];
  names: string[];
}

declare global {
  interface Window {
    __medcryptVectors?: Outcome;
  }
}

async function main(): Promise<void> {
  const outcome: Outcome = { passed: 0, failed: 0, checks: allChecks.length, failures: [], names: [] };
  for (const run of allChecks) {
    try {
      const t = await run();
      outcome.passed += t.passed;
      outcome.failed += t.failures.length;
      outcome.failures.push(...t.failures);
      outcome.names.push(t.name);
    } catch (error) {
      outcome.failed += 1;
      outcome.failures.push(`${run.name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  window.__medcryptVectors = outcome;
  const status = document.getElementById("status");
  if (status !== null) {
    status.textContent = `${outcome.passed} passed, ${outcome.failed} failed`;
  }
}

void main();
