/** Node twin of test/browser/entry.ts: the same checks, the outcome as one JSON line. */

import { allChecks } from "./vectors/index.js";

const outcome = { passed: 0, failed: 0, checks: allChecks.length, failures: [] as string[],
  names: [] as string[] };
for (const run of allChecks) {
  const t = await run();
  outcome.passed += t.passed;
  outcome.failed += t.failures.length;
  outcome.failures.push(...t.failures);
  outcome.names.push(t.name);
}
process.stdout.write(`${JSON.stringify(outcome)}\n`);
process.exit(outcome.failed === 0 ? 0 : 1);
