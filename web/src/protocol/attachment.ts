/**
 * Encrypted attachments (docs/PROTOCOL.md §14, `crypto/endpoint/attachment.py`): a random
 * key per file, libsodium secretstream in 64 KiB chunks, the padded `MCF3` container.
 *
 * Streaming, memory flat: {@link sealFile} and {@link openFile} consume an async iterable
 * of byte chunks of any sizes (a `ReadableStream` from `File.stream()` is one) and yield
 * the output chunk by chunk; at most one 64 KiB chunk plus one of look-ahead is held.
 * {@link openFile} yields plaintext *before* the final size and hash checks (as the CLI
 * does), so the caller must keep what it wrote only if the iteration finished without
 * an error (the app writes to a temporary blob and discards it on error).
 */

import { DecryptionFailed, LimitExceeded, MalformedToken, WrongPairing } from "../crypto/errors.js";
import {
  type Rng, STREAM_ABYTES, STREAM_HEADER_LEN, STREAM_TAG_FINAL, STREAM_TAG_MESSAGE,
  SecretStreamPull, SecretStreamPush, Sha256, constantTimeEqual, osRng,
} from "../crypto/primitives.js";
import { Reader, Writer, concat } from "./bytes.js";
import { bucketSize } from "./envelope.js";
import type { Direction } from "./v3wire.js";
import { FILE_HEADER_LEN, type FileHeader, encodeFileHeader, parseFileHeader } from "./wire.js";

export const CHUNK_SIZE = 64 * 1024;
const ENC_CHUNK = CHUNK_SIZE + STREAM_ABYTES;
export const MAX_FILE_SIZE = 512 * 1024 * 1024;
export const MAX_NAME_BYTES = 255;
export const DEFAULT_MIME_TYPE = "application/octet-stream";
export const DEFAULT_FILE_NAME = "attachment";
const MANIFEST_FIXED_LEN = 92;
const MIME_RE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$/;
const FORBIDDEN = /[\p{Cc}\p{Cf}\p{Cs}]/gu;
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface Manifest {
  readonly fileId: Uint8Array;
  readonly key: Uint8Array;
  readonly size: number;
  readonly sha256: Uint8Array;
  /** Always sanitised: safe to offer as a download name. */
  readonly name: string;
  readonly mimeType: string;
}

function sanitiseOnce(name: string): string {
  const parts = name.split(/[/\\]/);
  let base = (parts[parts.length - 1] ?? "").replace(FORBIDDEN, "");
  base = base.normalize("NFC");
  base = base.replace(/^[\s.]+/u, "").trimEnd();
  const encoded = utf8.encode(base);
  if (encoded.length > MAX_NAME_BYTES) {
    let cut = MAX_NAME_BYTES;
    // Drop a partial character: back off while the byte at the cut is a continuation.
    while (cut > 0 && ((encoded[cut] ?? 0) & 0xc0) === 0x80) {
      cut -= 1;
    }
    base = new TextDecoder().decode(encoded.subarray(0, cut)).trimEnd();
  }
  return base;
}

/** §14.2's `sanitise(name)`: a fixed point with no separator, control or leading dot. */
export function sanitiseFileName(name: string): string {
  let base = sanitiseOnce(name);
  for (let i = 0; i < 4; i += 1) {
    const again = sanitiseOnce(base);
    if (again === base) {
      return base || DEFAULT_FILE_NAME;
    }
    base = again;
  }
  return DEFAULT_FILE_NAME;
}

function checkManifest(m: Manifest): void {
  if (m.fileId.length !== 16 || m.key.length !== 32) {
    throw new MalformedToken("attachment manifest has a bad id or key length");
  }
  if (m.sha256.length !== 32 || !Number.isSafeInteger(m.size) || m.size < 0 || m.size > MAX_FILE_SIZE) {
    throw new MalformedToken("attachment manifest has a bad hash or size");
  }
  if (sanitiseFileName(m.name) !== m.name) {
    throw new MalformedToken("attachment manifest file name is not sanitised");
  }
  if (m.mimeType.length > 127 || !MIME_RE.test(m.mimeType)) {
    throw new MalformedToken("attachment MIME type is invalid");
  }
}

export function manifestBytes(m: Manifest): Uint8Array {
  checkManifest(m);
  const name = utf8.encode(m.name);
  const mime = utf8.encode(m.mimeType);
  return concat(new Writer().u8(1).bytes(m.fileId, 16).bytes(m.key, 32).u64(m.size)
    .bytes(m.sha256, 32).u8(mime.length).u16(name.length).finish(), mime, name);
}

/** Strict inverse of {@link manifestBytes}; the name is sanitised again (§14.2). */
export function parseManifest(data: Uint8Array): Manifest {
  if (data.length < MANIFEST_FIXED_LEN) {
    throw new MalformedToken("attachment manifest is truncated");
  }
  const r = new Reader(data);
  const version = r.u8();
  const fileId = r.bytes(16);
  const key = r.bytes(32);
  const size = r.u64();
  const sha256 = r.bytes(32);
  const mimeLen = r.u8();
  const nameLen = r.u16();
  if (version !== 1) {
    throw new MalformedToken("unsupported attachment manifest version");
  }
  if (data.length !== MANIFEST_FIXED_LEN + mimeLen + nameLen || nameLen > MAX_NAME_BYTES) {
    throw new MalformedToken("attachment manifest has the wrong length");
  }
  const mimeRaw = r.bytes(mimeLen);
  let name: string;
  if (mimeRaw.some((b) => b > 0x7f)) {
    throw new MalformedToken("attachment manifest text is not valid");
  }
  try {
    name = strictUtf8.decode(r.rest());
  } catch {
    throw new MalformedToken("attachment manifest text is not valid");
  }
  const m: Manifest = { fileId, key, size, sha256, name: sanitiseFileName(name),
    mimeType: String.fromCharCode(...mimeRaw) };
  checkManifest(m);
  return m;
}

export function paddedSize(size: number): number {
  return bucketSize(size);
}

export function containerSize(size: number, version: 2 | 3 = 3): number {
  const stream = version === 3 ? paddedSize(size) : size;
  return FILE_HEADER_LEN + STREAM_HEADER_LEN + stream + Math.max(1, Math.ceil(stream / CHUNK_SIZE)) * STREAM_ABYTES;
}

/** Re-cut a byte source into blocks of exactly `size` bytes (the last may be shorter). */
async function* blocks(source: ByteSource, size: number): AsyncGenerator<Uint8Array> {
  let pending: Uint8Array[] = [];
  let held = 0;
  for await (const piece of source) {
    let offset = 0;
    while (offset < piece.length) {
      const take = Math.min(size - held, piece.length - offset);
      pending.push(piece.subarray(offset, offset + take));
      held += take;
      offset += take;
      if (held === size) {
        yield concat(...pending);
        pending = [];
        held = 0;
      }
    }
  }
  if (held > 0) {
    yield concat(...pending);
  }
}

export interface SealOptions {
  pairingId: Uint8Array; epoch: number; direction: Direction; name: string;
  mimeType?: string; maxSize?: number; rng?: Rng;
}

/**
 * Encrypt `source` into an `MCF3` container. Yields container pieces; the manifest is
 * available from `result()` once the iteration is complete. Draws: file key (32),
 * file id (16), stream header (24).
 */
export function sealFile(source: ByteSource, opts: SealOptions): {
  container: AsyncGenerator<Uint8Array>; manifest: () => Manifest;
} {
  const rng = opts.rng ?? osRng;
  const key = rng(32);
  const fileId = rng(16);
  const streamHeader = rng(STREAM_HEADER_LEN);
  const name = sanitiseFileName(opts.name);
  const mimeType = opts.mimeType ?? DEFAULT_MIME_TYPE;
  const maxSize = opts.maxSize ?? MAX_FILE_SIZE;
  checkManifest({ fileId, key, size: 0, sha256: new Uint8Array(32), name, mimeType });
  const fileHeader = encodeFileHeader(opts.pairingId, opts.epoch, opts.direction, fileId, 3);
  let result: Manifest | null = null;
  async function* run(): AsyncGenerator<Uint8Array> {
    const stream = new SecretStreamPush(key, streamHeader);
    const digest = new Sha256();
    yield concat(fileHeader, streamHeader);
    let size = 0;
    let ad: Uint8Array | null = fileHeader;
    let previous: Uint8Array | null = null;
    // Real bytes first; the padding is appended after the end is known (flat memory).
    for await (const block of blocks(source, CHUNK_SIZE)) {
      size += block.length;
      if (size > maxSize) {
        throw new LimitExceeded(`file is larger than the ${maxSize}-byte limit`);
      }
      digest.update(block);
      if (previous !== null) {
        yield stream.push(previous, ad, STREAM_TAG_MESSAGE);
        ad = null;
      }
      previous = block;
    }
    let padding = paddedSize(size) - size;
    let last: Uint8Array = previous ?? new Uint8Array(0);
    while (true) {
      const room = CHUNK_SIZE - last.length;
      const fill = Math.min(room, padding);
      if (fill > 0) {
        last = concat(last, new Uint8Array(fill));
        padding -= fill;
      }
      const final = padding === 0;
      yield stream.push(last, ad, final ? STREAM_TAG_FINAL : STREAM_TAG_MESSAGE);
      ad = null;
      if (final) {
        break;
      }
      last = new Uint8Array(0);
    }
    result = { fileId, key, size, sha256: digest.digest(), name, mimeType };
  }
  return {
    container: run(),
    manifest: () => {
      if (result === null) {
        throw new Error("the container has not been written to its end yet");
      }
      return result;
    },
  };
}

/**
 * Decrypt a container against its manifest, yielding the file's bytes chunk by chunk.
 * Every check of §14.1's table; the last ones (size, SHA-256, trailing data) run after
 * the last plaintext chunk was yielded, so discard the output if this throws.
 */
export async function* openFile(source: ByteSource, manifest: Manifest,
  opts: { pairingId?: Uint8Array; maxSize?: number } = {}): AsyncGenerator<Uint8Array, FileHeader> {
  const maxSize = opts.maxSize ?? MAX_FILE_SIZE;
  if (manifest.size > maxSize) {
    throw new LimitExceeded(`file is larger than the ${maxSize}-byte limit`);
  }
  const reader = blocks(source, ENC_CHUNK)[Symbol.asyncIterator]();
  // The first block holds the 42 + 24 header bytes and the start of chunk 0: re-cut.
  const head = await takeBytes(reader, FILE_HEADER_LEN + STREAM_HEADER_LEN);
  const header = parseFileHeader(head.bytes);
  if (!constantTimeEqual(header.fileId, manifest.fileId)) {
    throw new WrongPairing("the encrypted file does not belong to this manifest");
  }
  if (opts.pairingId !== undefined && !constantTimeEqual(header.pairingId, opts.pairingId)) {
    throw new WrongPairing("the encrypted file belongs to another pairing");
  }
  if (head.bytes.length < FILE_HEADER_LEN + STREAM_HEADER_LEN) {
    throw new MalformedToken("encrypted file is truncated");
  }
  const padded = header.version === 3;
  const streamSize = padded ? paddedSize(manifest.size) : manifest.size;
  const stream = new SecretStreamPull(manifest.key, head.bytes.subarray(FILE_HEADER_LEN));
  const digest = new Sha256();
  let total = 0;
  let ad: Uint8Array | null = header.raw;
  const chunks = recut(head.rest, reader, ENC_CHUNK);
  while (true) {
    const next = await chunks.next();
    const block = next.done ? new Uint8Array(0) : next.value;
    if (block.length < STREAM_ABYTES) {
      throw new DecryptionFailed();
    }
    const { message: plain, tag } = stream.pull(block, ad);
    ad = null;
    const contentLeft = Math.max(0, manifest.size - total);
    total += plain.length;
    if (total > streamSize) {
      throw new DecryptionFailed();
    }
    const content = plain.subarray(0, contentLeft);
    const padding = plain.subarray(contentLeft);
    if (padding.some((b) => b !== 0)) {
      throw new DecryptionFailed();
    }
    digest.update(content);
    if (content.length) {
      yield content.slice();
    }
    if (tag === STREAM_TAG_FINAL) {
      if (padded && plain.length === 0) {
        throw new DecryptionFailed();
      }
      break;
    }
    if (tag !== STREAM_TAG_MESSAGE || plain.length !== CHUNK_SIZE) {
      throw new DecryptionFailed();
    }
  }
  const after = await chunks.next();
  if (!after.done && after.value.length > 0) {
    throw new DecryptionFailed();
  }
  if (total !== streamSize || !constantTimeEqual(digest.digest(), manifest.sha256)) {
    throw new DecryptionFailed();
  }
  return header;
}

async function takeBytes(reader: AsyncIterator<Uint8Array>, n: number): Promise<{
  bytes: Uint8Array; rest: Uint8Array;
}> {
  const parts: Uint8Array[] = [];
  let held = 0;
  while (held < n) {
    const next = await reader.next();
    if (next.done) {
      break;
    }
    parts.push(next.value);
    held += next.value.length;
  }
  const all = concat(...parts);
  return { bytes: all.subarray(0, n), rest: all.subarray(n) };
}

/** Blocks of exactly `size` bytes from a leftover plus the rest of a block reader. */
async function* recut(leftover: Uint8Array, reader: AsyncIterator<Uint8Array>,
  size: number): AsyncGenerator<Uint8Array> {
  async function* rest(): AsyncGenerator<Uint8Array> {
    if (leftover.length) {
      yield leftover;
    }
    while (true) {
      const next = await reader.next();
      if (next.done) {
        return;
      }
      yield next.value;
    }
  }
  yield* blocks(rest(), size);
}
