/**
 * `node bench-node.mjs FIXTURE.json`: prints `ready`, then for each line `N` on stdin
 * runs a round of N decrypts and prints the per-operation microseconds.
 */

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";

import { type Fixture, prepare } from "./decrypt.js";

const fixture = JSON.parse(readFileSync(process.argv[2] ?? "", "utf8")) as Fixture;
const bench = await prepare(fixture, () => performance.now());
process.stdout.write("ready\n");
for await (const line of createInterface({ input: process.stdin })) {
  process.stdout.write(`${await bench.round(Number(line))}\n`);
}
