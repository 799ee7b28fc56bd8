/**
 * Memory stays flat for a large attachment (issue 14): a 128 MiB file generated on the
 * fly is sealed chunk by chunk, then sealed again from the same draws and piped straight
 * into the opener (the manifest - key, size, SHA-256 - is known only after the first
 * pass, as in the app, which keeps the container in a Blob, not in memory). The process
 * must not grow by anything near the file's size. Node only (process.memoryUsage); the
 * container bytes themselves are checked by the vector files.
 */

import assert from "node:assert/strict";
import { test } from "node:test";

import * as p from "../../src/crypto/primitives.js";
import { type Manifest, openFile, sealFile } from "../../src/protocol/attachment.js";

const SIZE = 128 * 1024 * 1024;
/** Freed buffers return to the allocator lazily, so live memory swings by tens of MiB
 * (measured 1-33 MiB); an implementation that buffered the file would hold >= 128 MiB. */
const BOUND = 48 * 1024 * 1024;
const PIECE = 1024 * 1024 + 7; // odd-sized pieces, as a browser File stream gives

async function* generated(): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < SIZE; sent += PIECE) {
    yield new Uint8Array(Math.min(PIECE, SIZE - sent)).fill(sent % 251);
  }
}

/** Live memory: after a full collection when the runner exposes gc (npm test does). */
function used(): number {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

test("sealing and opening 128 MiB keeps memory flat", async () => {
  await p.ready();
  const draws: Uint8Array[] = [];
  const recording = (n: number): Uint8Array => {
    const d = p.randomBytes(n);
    draws.push(d.slice());
    return d;
  };
  const options = { pairingId: new Uint8Array(16), epoch: 682, direction: 0 as const,
    name: "scan.pdf", mimeType: "application/pdf" };
  const baseline = used();
  let peak = 0;
  const first = sealFile(generated(), { ...options, rng: recording });
  let containerBytes = 0;
  let sample = 0;
  for await (const piece of first.container) {
    containerBytes += piece.length;
    if (++sample % 64 === 0) {
      peak = Math.max(peak, used() - baseline);
    }
  }
  const manifest: Manifest = first.manifest();
  assert.equal(manifest.size, SIZE);
  assert.ok(containerBytes > SIZE);

  const replay = [...draws];
  const second = sealFile(generated(), { ...options, rng: () => replay.shift() as Uint8Array });
  let opened = 0;
  for await (const piece of openFile(second.container, manifest)) {
    opened += piece.length;
    if (++sample % 64 === 0) {
      peak = Math.max(peak, used() - baseline);
    }
  }
  assert.equal(opened, SIZE);
  assert.ok(peak < BOUND, `memory grew by ${(peak / 1048576).toFixed(1)} MiB`);
});
