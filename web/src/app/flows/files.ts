/**
 * Attachments in a thread: seal a photo or PDF into an `MCF3` container (downloaded, to
 * be sent through the chat as a file) plus a message whose body is the manifest (the
 * file's key, size, hash and name), and open a received container against the manifest
 * that came in its message.
 *
 * Why memory stays flat: the file is read as a stream (`File.stream()`), the protocol
 * seals and opens it 64 KiB at a time (web/src/protocol/attachment.ts), and the output is
 * appended to a Blob chunk by chunk - a Blob's bytes live in the browser's blob storage,
 * not in the page's heap, so no whole-file buffer is ever made here. The opened file is
 * offered for download only after every check of the container passed (the last ones run
 * after the last chunk); on any error the partial Blob is dropped.
 */
import { fromBase64, fromHex, toBase64 } from "../../crypto/primitives.js";
import type { Keystore } from "../../keystore/index.js";
import { containerSize, manifestBytes, openFile, parseManifest, sealFile, type Manifest } from "../../protocol/attachment.js";
import { epochOf } from "../../protocol/epochs.js";

/**
 * The most each chat app carries for the relay, as the clinic's bot is told by default
 * (bot/domain/config.py, ADR 0023): Telegram lets a bot download 20 MB; WhatsApp through
 * Twilio takes under 16 MB and gets the container inside a PDF wrapper of at most 1,100
 * bytes (crypto/keyless/pdf_wrap.py). The same table as the CLI's `send-file`.
 */
export const APP_FILE_LIMITS = [
  { app: "WhatsApp", bytes: 16_000_000 - 1100, label: "16 MB" },
  { app: "Telegram", bytes: 20 * 1024 * 1024, label: "20 MB" },
] as const;

/**
 * The chat apps whose relay limit the sealed container of a `size`-byte file exceeds,
 * told before sealing as the CLI does: only a warning, since the app does not know which
 * app the other person uses and a clinic may raise its relay's limits.
 */
export function appsTooSmallFor(size: number): { app: string; label: string; megabytes: number }[] {
  const sealed = containerSize(size);
  return APP_FILE_LIMITS.filter((l) => sealed > l.bytes)
    .map((l) => ({ app: l.app, label: l.label, megabytes: sealed / 1_000_000 }));
}

/** A stream's chunks as an async iterable (no reliance on ReadableStream's own). */
async function* chunks(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

async function toBlob(source: AsyncIterable<Uint8Array>, type: string): Promise<Blob> {
  let blob = new Blob([], { type });
  for await (const piece of source) blob = new Blob([blob, new Uint8Array(piece)], { type });
  return blob;
}

export interface Sealed {
  readonly container: Blob;
  readonly containerName: string;
  readonly manifest: Uint8Array;
  readonly name: string;
}

/** Seal `file` for pairing `id` (this side's direction); the manifest goes in a message. */
export async function sealAttachment(store: Keystore, id: string, file: File, now: Date): Promise<Sealed> {
  const rec = store.document.pairings[id];
  const direction = rec?.["role"] === "physician" ? 1 : 0;
  const sealed = sealFile(chunks(file.stream()), {
    pairingId: fromHex(id), epoch: epochOf(now), direction, name: file.name,
    mimeType: file.type || "application/octet-stream",
  });
  const container = await toBlob(sealed.container, "application/octet-stream");
  const manifest = sealed.manifest();
  return { container, containerName: `${manifest.name}.mcf`, manifest: manifestBytes(manifest), name: manifest.name };
}

/** The manifest stored with a thread line (base64 inside the sealed document). */
export function storedManifest(body: Uint8Array): { manifest: string; name: string; size: number } {
  const m = parseManifest(body);
  return { manifest: toBase64(body, "standard"), name: m.name, size: m.size };
}

/** Open a received container against its stored manifest; the file as a Blob, or throws. */
export async function openAttachment(id: string, manifestB64: string, container: File): Promise<{ blob: Blob; manifest: Manifest }> {
  const manifest = parseManifest(fromBase64(manifestB64, "standard"));
  const blob = await toBlob(openFile(chunks(container.stream()), manifest, { pairingId: fromHex(id) }), manifest.mimeType);
  return { blob, manifest };
}

/** Offer `blob` as a download named `name` (a sanitised name from the manifest or ours). */
export function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
