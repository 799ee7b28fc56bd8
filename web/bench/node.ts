/** `node bench-node.mjs FIXTURE.json`: the decrypt benchmark under Node, one JSON line. */

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

import { type Fixture, benchDecrypt } from "./decrypt.js";

const fixture = JSON.parse(readFileSync(process.argv[2] ?? "", "utf8")) as Fixture;
const result = await benchDecrypt(fixture, () => performance.now());
process.stdout.write(`${JSON.stringify(result)}\n`);
