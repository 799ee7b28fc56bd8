/** Runs every vector check under node:test, one test per check function. */

import assert from "node:assert/strict";
import { test } from "node:test";

import { allChecks } from "../vectors/index.js";

for (const run of allChecks) {
  test(run.name, async () => {
    const result = await run();
    assert.deepEqual(result.failures, [], `${result.name} failed`);
    assert.ok(result.passed > 0, `${result.name} checked nothing`);
  });
}
