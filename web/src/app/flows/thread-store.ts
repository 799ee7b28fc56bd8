/**
 * A thread's messages as keystore transactions (commit before show, ADR 0030): sealing
 * a message advances the ratchet and records the line in the same commit, before the
 * token is handed to the screen; opening one does the same before the plaintext is.
 *
 * The thread's lines live in the pairing's record inside the sealed document
 * (`history: [{dir, text, at, epoch}]`), so they are under the passphrase like the keys.
 * The calendar is the CLI's: `shredDue` runs before every step, and a shredded month's
 * lines are removed from the history with its keys; the month stays listed in the
 * session's `shredded` map, which the thread shows as a line.
 */
import { MedCryptError } from "../../crypto/errors.js";
import { wipe } from "../../crypto/primitives.js";
import type { Json, Keystore, KeystoreDocument, PairingRecord } from "../../keystore/index.js";
import { ContentType } from "../../protocol/envelope.js";
import { epochOf, formatEpoch } from "../../protocol/epochs.js";
import { LIMIT_TELEGRAM, LIMIT_WHATSAPP, PartAssembler, splitToken } from "../../protocol/parts.js";
import { parseToken } from "../../protocol/wire.js";
import { decrypt, describe, encrypt, shredDue } from "../../protocol/v3session.js";
import type { SessionDocument } from "../../protocol/v3state.js";
import { storedManifest } from "./files.js";
import { identitySeed } from "./vault.js";

export type Platform = "telegram" | "whatsapp";
/** Telegram counts UTF-16 units, WhatsApp (Twilio) characters; tokens are ASCII. */
export const LIMITS: Readonly<Record<Platform, number>> = { telegram: LIMIT_TELEGRAM, whatsapp: LIMIT_WHATSAPP };

export interface Line {
  readonly dir: "in" | "out";
  readonly text: string;
  /** ISO instant: sent time for "in" (the token's), local send time for "out". */
  readonly at: string;
  readonly epoch: number;
  /** An attachment's manifest (base64, holds the file key), its name and size. */
  readonly file?: { readonly manifest: string; readonly name: string; readonly size: number };
}

type Clock = () => Date;
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function historyOf(rec: PairingRecord): Line[] {
  const h = rec["history"];
  return Array.isArray(h) ? (h as unknown as Line[]) : [];
}

/** Shred due months and drop their lines: the record as it must be stored now. */
function calendar(rec: PairingRecord, now: Date): PairingRecord {
  const due = shredDue(rec["session"] as unknown as SessionDocument, now);
  const gone = new Set(describe(due.state).shredded.keys());
  return { ...rec, session: due.state as unknown as Json,
    history: historyOf(rec).filter((l) => !gone.has(l.epoch)) as unknown as Json };
}

function update(doc: KeystoreDocument, id: string, rec: PairingRecord): KeystoreDocument {
  return { ...doc, pairings: { ...doc.pairings, [id]: rec } };
}

function recordOf(doc: KeystoreDocument, id: string): PairingRecord {
  const rec = doc.pairings[id];
  if (rec === undefined || rec["session"] === null || rec["session"] === undefined) {
    throw new MedCryptError("no session for this pairing", "storage_error");
  }
  return rec;
}

/** Seal `text`; returns the token split for `platform`, after the commit. */
export function seal(store: Keystore, id: string, text: string, platform: Platform, now: Clock): Promise<string[]> {
  return sealBody(store, id, utf8.encode(text), ContentType.TEXT, (at) =>
    ({ dir: "out", text, at: at.toISOString(), epoch: epochOf(at) }), platform, now);
}

/** Seal an attachment's manifest as a message (the container goes separately). */
export function sealManifest(store: Keystore, id: string, manifest: Uint8Array, platform: Platform,
  now: Clock): Promise<string[]> {
  const file = storedManifest(manifest);
  return sealBody(store, id, manifest, ContentType.ATTACHMENT_MANIFEST, (at) =>
    ({ dir: "out", text: file.name, at: at.toISOString(), epoch: epochOf(at), file }), platform, now);
}

function sealBody(store: Keystore, id: string, body: Uint8Array, contentType: ContentType,
  lineAt: (at: Date) => Line, platform: Platform, now: Clock): Promise<string[]> {
  return store.transact((doc) => {
    const at = now();
    const rec = calendar(recordOf(doc, id), at);
    const seed = identitySeed(doc);
    try {
      const sent = encrypt(rec["session"] as unknown as SessionDocument, seed, body, { now: at, contentType });
      const parts = splitToken(sent.token, LIMITS[platform]);
      const next = { ...rec, session: sent.state as unknown as Json,
        history: [...historyOf(rec), lineAt(at)] as unknown as Json };
      return { doc: update(doc, id, next), output: parts };
    } finally {
      wipe(seed);
    }
  });
}

/** Open one whole MESSAGE token; the line comes back after the commit. */
export function open(store: Keystore, id: string, token: string, now: Clock): Promise<Line> {
  return store.transact(async (doc) => {
    const at = now();
    const rec = calendar(recordOf(doc, id), at);
    const r = await decrypt(rec["session"] as unknown as SessionDocument, token, { now: at });
    const sentAt = new Date(r.opened.sentAtMs).toISOString();
    let line: Line;
    if (r.opened.contentType === ContentType.ATTACHMENT_MANIFEST) {
      const file = storedManifest(r.opened.body);
      line = { dir: "in", text: file.name, at: sentAt, epoch: r.opened.epoch, file };
    } else {
      line = { dir: "in", text: strictUtf8.decode(r.opened.body), at: sentAt, epoch: r.opened.epoch };
    }
    wipe(r.opened.body);
    const next = { ...rec, session: r.state as unknown as Json, history: [...historyOf(rec), line] as unknown as Json };
    return { doc: update(doc, id, next), output: line };
  });
}

/**
 * Run the calendar alone (at thread open), committing only if a month is due to shred.
 *
 * Why the check comes first: nearly every open finds nothing due, and a commit re-encodes
 * the whole document, seals it, wraps it and waits for a durable IndexedDB write - work
 * that changes nothing and that the thread's first draw would wait for. The check reads
 * the committed document; when a month is due the commit runs the calendar again inside
 * the transaction, on the state it writes (as sealing and opening do before every step).
 */
export async function runCalendar(store: Keystore, id: string, now: Clock): Promise<boolean> {
  const due = shredDue(recordOf(store.document, id)["session"] as unknown as SessionDocument, now());
  if (due.shredded.length === 0) return false;
  await store.transact((doc) => ({ doc: update(doc, id, calendar(recordOf(doc, id), now())), output: undefined }));
  return true;
}

/** The thread as stored: its lines and the shredded months (labels "YYYY-MM"). */
export function threadOf(doc: KeystoreDocument, id: string): { lines: Line[]; shredded: string[] } {
  const rec = recordOf(doc, id);
  const facts = describe(rec["session"] as unknown as SessionDocument);
  return { lines: historyOf(rec), shredded: [...facts.shredded.keys()].sort((a, b) => a - b).map(formatEpoch) };
}

/**
 * Parts and whole tokens from pasted text, in any order: whole tokens are returned at
 * once, parts wait in the assembler (kept per thread, in memory) until their group is
 * complete.
 */
export function collect(assembler: PartAssembler, tokens: readonly string[]): string[] {
  const whole: string[] = [];
  for (const token of tokens) {
    if (parseToken(token).kind === "part") {
      const joined = assembler.add(token);
      if (joined !== null) whole.push(joined);
    } else {
      whole.push(token);
    }
  }
  return whole;
}
