/**
 * The canonical byte form of the JSON state documents (docs/PROTOCOL.md §28): keys
 * sorted by code point, separators `,` and `:`, non-ASCII escaped as `\uXXXX`
 * (lowercase hex, surrogate pairs), no NaN or infinity - what Python's
 * `json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=True)` writes, so the
 * web and CLI companions produce byte-identical session documents (the vectors compare them).
 */

import { StorageError } from "../crypto/errors.js";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function escapeNonAscii(text: string): string {
  return text.replace(/[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function sortKeys(a: string, b: string): number {
  // Code point order; for the BMP (all our keys are ASCII) code units agree.
  return a < b ? -1 : a > b ? 1 : 0;
}

function write(value: Json): string {
  if (value === null || typeof value === "boolean") {
    return String(value);
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      throw new StorageError("state holds a number JSON cannot carry");
    }
    return JSON.stringify(value);
  }
  if (typeof value === "string") {
    return escapeNonAscii(JSON.stringify(value));
  }
  if (Array.isArray(value)) {
    return `[${value.map(write).join(",")}]`;
  }
  const keys = Object.keys(value).sort(sortKeys);
  return `{${keys.map((k) => `${escapeNonAscii(JSON.stringify(k))}:${write(value[k] as Json)}`).join(",")}}`;
}

export function canonicalJson(value: Json): string {
  return write(value);
}
