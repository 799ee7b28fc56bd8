/** `node profile-node.mjs FIXTURE.json`: prints the step profile (bench/profile.ts) as JSON. */

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

import type { Fixture } from "./decrypt.js";
import { profile } from "./profile.js";

const fixture = JSON.parse(readFileSync(process.argv[2] ?? "", "utf8")) as Fixture;
process.stdout.write(`${JSON.stringify(await profile(fixture, () => performance.now()))}\n`);
