/**
 * One side of a v3 conversation, driven over stdin/stdout by
 * tests/web/test_interop_python.py while the Python companion plays the other side.
 * One JSON object per line in, one per line out. The session document is kept here
 * between steps exactly as the app keeps it: each step returns a new document.
 */

import { createInterface } from "node:readline";

import { MedCryptError } from "../../src/crypto/errors.js";
import { fromBase64, ready, toBase64 } from "../../src/crypto/primitives.js";
import { PartAssembler, splitToken } from "../../src/protocol/parts.js";
import { decrypt, encrypt, sessionDocumentText } from "../../src/protocol/v3session.js";
import type { SessionDocument } from "../../src/protocol/v3state.js";

interface Request {
  op: "init" | "encrypt" | "decrypt" | "state";
  state?: SessionDocument;
  seed?: string;
  body?: string;
  now?: string;
  max_chars?: number;
  texts?: string[];
}

await ready();
let state: SessionDocument | null = null;
let seed: Uint8Array = new Uint8Array(0);
const assembler = new PartAssembler();

async function handle(req: Request): Promise<unknown> {
  switch (req.op) {
    case "init":
      state = req.state ?? null;
      seed = fromBase64(req.seed ?? "", "standard");
      return { ok: true };
    case "encrypt": {
      const out = encrypt(state as SessionDocument, seed, fromBase64(req.body ?? "", "standard"),
        { now: new Date(req.now ?? "") });
      state = out.state;
      return { ok: true, parts: splitToken(out.token, req.max_chars ?? 4096) };
    }
    case "decrypt": {
      const results: unknown[] = [];
      for (const text of req.texts ?? []) {
        let joined: string | null;
        try {
          joined = assembler.add(text);
        } catch (error) {
          results.push({ ok: false, code: error instanceof MedCryptError ? error.code : "untyped" });
          continue;
        }
        if (joined === null) {
          continue;
        }
        try {
          const out = await decrypt(state as SessionDocument, joined, { now: new Date(req.now ?? "") });
          state = out.state;
          results.push({ ok: true, body: toBase64(out.opened.body, "standard") });
        } catch (error) {
          results.push({ ok: false, code: error instanceof MedCryptError ? error.code : "untyped",
            error: error instanceof MedCryptError ? "" : String(error) });
        }
      }
      return { ok: true, results, pending: assembler.pending };
    }
    case "state":
      return { ok: true, document: sessionDocumentText(state as SessionDocument) };
    default:
      return { ok: false, code: "unknown op" };
  }
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  let reply: unknown;
  try {
    reply = await handle(JSON.parse(line) as Request);
  } catch (error) {
    reply = { ok: false, code: "crash", error: String(error) };
  }
  process.stdout.write(`${JSON.stringify(reply)}\n`);
}
