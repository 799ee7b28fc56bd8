/**
 * The keystore document's byte form: the CLI's encoding (docs/PROTOCOL.md §15), so the
 * inner sealed document is the CLI's format byte for byte - Python's
 * `json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)`.
 *
 * Why canonical rather than plain `JSON.stringify`: the sealed size must depend only on
 * the content (it is padded to 4 KiB blocks), and tests compare the web's bytes with the
 * Python writer's. `JSON.stringify` already escapes quotes, backslashes, the short
 * control escapes and lone surrogates exactly as Python does; this module adds only the
 * key order and `\uXXXX` (lowercase) for DEL and every non-ASCII code unit, which also writes a
 * character above U+FFFF as its surrogate pair, as Python does.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

// Python escapes every code unit outside space..tilde: non-ASCII and DEL (U+007F) too.
const NON_ASCII = /[\u007f-\uffff]/g;

function escapeNonAscii(text: string): string {
  return text.replace(NON_ASCII, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

function encodeValue(value: Json, out: string[]): void {
  if (value === null || typeof value === "boolean") {
    out.push(String(value));
  } else if (typeof value === "number") {
    // The document holds integers only (epochs, indexes, Unix seconds): a float would
    // print differently in Python and JavaScript, so refuse it here.
    if (!Number.isSafeInteger(value)) throw new TypeError("keystore JSON holds integers only");
    out.push(String(value));
  } else if (typeof value === "string") {
    out.push(escapeNonAscii(JSON.stringify(value)));
  } else if (Array.isArray(value)) {
    out.push("[");
    value.forEach((item, i) => {
      if (i > 0) out.push(",");
      encodeValue(item, out);
    });
    out.push("]");
  } else if (typeof value === "object") {
    const keys = Object.keys(value).sort();
    out.push("{");
    keys.forEach((key, i) => {
      if (i > 0) out.push(",");
      out.push(escapeNonAscii(JSON.stringify(key)), ":");
      encodeValue(value[key] as Json, out);
    });
    out.push("}");
  } else {
    throw new TypeError("not a JSON value");
  }
}

/** The canonical ASCII text of `value` (throws TypeError on a non-JSON or float value). */
export function canonicalJson(value: Json): string {
  const out: string[] = [];
  encodeValue(value, out);
  return out.join("");
}

/** `canonicalJson` as bytes (ASCII, so one byte per character). */
export function canonicalJsonBytes(value: Json): Uint8Array {
  return new TextEncoder().encode(canonicalJson(value));
}

/**
 * Parse a (possibly space-padded) document: any RFC 8259 text whose top level is an
 * object, as §15 asks of a reader. Returns null for anything else, so the caller raises
 * its own typed error without echoing the bytes.
 */
export function parseObject(bytes: Uint8Array): { [key: string]: Json } | null {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return null;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
  return value as { [key: string]: Json };
}
