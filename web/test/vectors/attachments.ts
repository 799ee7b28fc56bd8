/**
 * attachment_container_v3.json (MCF3, what writers write) and attachment_container.json
 * (MCF2, read only) through the streaming TypeScript container: recorded draws give the
 * same manifest and container bytes (or SHA-256 for the large cases) when the input
 * arrives in odd-sized pieces, and every container opens back to its plaintext.
 */

import mcf2 from "../../../tests/vectors/attachment_container.json";
import mcf3 from "../../../tests/vectors/attachment_container_v3.json";
import { DecryptionFailed } from "../../src/crypto/errors.js";
import * as p from "../../src/crypto/primitives.js";
import {
  type ByteSource, type Manifest, containerSize, manifestBytes, openFile, parseManifest,
  sealFile,
} from "../../src/protocol/attachment.js";
import { checkAsync, expectReject, same, tally, type Tally } from "./harness.js";
import { Scripted } from "./scripted.js";

function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 1) {
    out[i] = i % 251;
  }
  return out;
}

/** The bytes in pieces of `size` (odd sizes exercise the re-cutting). */
function* pieces(data: Uint8Array, size: number): Generator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) {
    yield data.subarray(i, Math.min(data.length, i + size));
  }
}

async function collect(gen: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of gen) {
    parts.push(part);
  }
  return p.concat(...parts);
}

async function openAll(source: ByteSource, manifest: Manifest): Promise<Uint8Array> {
  return collect(openFile(source, manifest));
}

export async function attachmentVectors(): Promise<Tally> {
  await p.ready();
  const t = tally("attachment containers (MCF3, MCF2)");
  for (const c of mcf3.cases) {
    await checkAsync(t, `MCF3 ${c.plaintext_size} bytes`, async () => {
      const plain = pattern(c.plaintext_size);
      const rng = new Scripted(c.rng_draws);
      const sealed = sealFile(pieces(plain, 7001), {
        pairingId: p.fromHex(c.pairing_id), epoch: c.epoch, direction: c.direction as 0 | 1,
        name: c.name, mimeType: c.mime_type, rng: rng.rng,
      });
      const container = await collect(sealed.container);
      rng.done();
      const manifest = sealed.manifest();
      same(p.toHex(manifestBytes(manifest)), c.manifest, "manifest");
      same(p.toHex(manifest.sha256), c.plaintext_sha256, "plaintext hash");
      same(container.length, c.container_size, "container size");
      same(container.length, containerSize(c.plaintext_size), "containerSize()");
      same(p.toHex(p.sha256(container)), c.container_sha256, "container hash");
      if ("container" in c && typeof c.container === "string") {
        same(p.toHex(container), c.container, "container bytes");
      }
      const back = await openAll(pieces(container, 4099), parseManifest(p.fromHex(c.manifest)));
      same(p.toHex(p.sha256(back)), c.plaintext_sha256, "opened plaintext");
    });
  }
  for (const c of mcf2.cases) {
    if (!("container_hex" in c) || typeof c.container_hex !== "string") {
      continue;
    }
    await checkAsync(t, `MCF2 ${c.plaintext_size} bytes opens`, async () => {
      const manifest = parseManifest(p.fromHex(c.manifest_hex));
      const back = await openAll([p.fromHex(c.container_hex)], manifest);
      same(p.toHex(p.sha256(back)), c.plaintext_sha256_hex, "opened plaintext");
    });
  }
  await checkAsync(t, "a flipped byte, a truncation and trailing data are DecryptionFailed", async () => {
    const c = mcf3.cases.find((x) => x.plaintext_size === 66537);
    if (c === undefined) {
      throw new Error("case missing");
    }
    const plain = pattern(c.plaintext_size);
    const sealed = sealFile([plain], { pairingId: p.fromHex(c.pairing_id), epoch: c.epoch,
      direction: 1, name: "x.pdf", rng: new Scripted(c.rng_draws).rng });
    const container = await collect(sealed.container);
    const manifest = sealed.manifest();
    const flipped = container.slice();
    flipped[40000] = (flipped[40000] ?? 0) ^ 1;
    await expectReject(DecryptionFailed, () => openAll([flipped], manifest));
    await expectReject(DecryptionFailed, () => openAll([container.subarray(0, container.length - 17)], manifest));
    await expectReject(DecryptionFailed, () => openAll([container, new Uint8Array([0])], manifest));
    const relabelled = container.slice();
    relabelled[22] = (relabelled[22] ?? 0) ^ 1; // the epoch: the file header is chunk 0's AD
    await expectReject(DecryptionFailed, () => openAll([relabelled], manifest));
  });
  return t;
}
