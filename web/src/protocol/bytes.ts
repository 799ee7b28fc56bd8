/**
 * Big-endian field packing for the fixed binary layouts of docs/PROTOCOL.md (§1: every
 * integer is unsigned big-endian). A thin layer over DataView, which does the encoding;
 * what this adds is range checks that raise {@link MalformedToken} instead of wrapping.
 */

import { MalformedToken } from "../crypto/errors.js";

export { concat } from "../crypto/primitives.js";

/** Reads fields in order from a byte array; running past the end is MalformedToken. */
export class Reader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #offset: number;

  constructor(bytes: Uint8Array, offset = 0) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#offset = offset;
  }

  get offset(): number {
    return this.#offset;
  }

  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  #take(n: number): number {
    if (n < 0 || this.#offset + n > this.#bytes.length) {
      throw new MalformedToken("token is truncated");
    }
    const at = this.#offset;
    this.#offset += n;
    return at;
  }

  u8(): number {
    return this.#view.getUint8(this.#take(1));
  }

  u16(): number {
    return this.#view.getUint16(this.#take(2), false);
  }

  u32(): number {
    return this.#view.getUint32(this.#take(4), false);
  }

  /** u64 as a number; values above 2^53 - 1 are MalformedToken (no field needs them). */
  u64(): number {
    const value = this.#view.getBigUint64(this.#take(8), false);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new MalformedToken("integer field out of range");
    }
    return Number(value);
  }

  /** A copy of the next `n` bytes (so parsed fields never alias the caller's buffer). */
  bytes(n: number): Uint8Array {
    const at = this.#take(n);
    return this.#bytes.slice(at, at + n);
  }

  rest(): Uint8Array {
    return this.bytes(this.remaining);
  }
}

/** Appends fields in order; an out-of-range integer is MalformedToken. */
export class Writer {
  readonly #chunks: Uint8Array[] = [];

  #int(value: number, size: 1 | 2 | 4, max: number): this {
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw new MalformedToken("integer field out of range");
    }
    const out = new Uint8Array(size);
    const view = new DataView(out.buffer);
    if (size === 1) {
      view.setUint8(0, value);
    } else if (size === 2) {
      view.setUint16(0, value, false);
    } else {
      view.setUint32(0, value, false);
    }
    this.#chunks.push(out);
    return this;
  }

  u8(value: number): this {
    return this.#int(value, 1, 0xff);
  }

  u16(value: number): this {
    return this.#int(value, 2, 0xffff);
  }

  u32(value: number): this {
    return this.#int(value, 4, 0xffffffff);
  }

  u64(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new MalformedToken("integer field out of range");
    }
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt(value), false);
    this.#chunks.push(out);
    return this;
  }

  /** Fixed-length bytes: `length` is checked so a wrong-sized key never shifts a layout. */
  bytes(value: Uint8Array, length?: number, what = "field"): this {
    if (length !== undefined && value.length !== length) {
      throw new MalformedToken(`${what} must be ${length} bytes`);
    }
    this.#chunks.push(value.slice());
    return this;
  }

  finish(): Uint8Array {
    let total = 0;
    for (const c of this.#chunks) {
      total += c.length;
    }
    const out = new Uint8Array(total);
    let offset = 0;
    for (const c of this.#chunks) {
      out.set(c, offset);
      offset += c.length;
    }
    return out;
  }
}

/** u32 big-endian as 4 bytes (labels are followed by `u32(e)` everywhere). */
export function u32(value: number): Uint8Array {
  return new Writer().u32(value).finish();
}

export function u8(value: number): Uint8Array {
  return new Writer().u8(value).finish();
}

const encoder = new TextEncoder();

/** ASCII label bytes (labels are ASCII by §1; TextEncoder's UTF-8 equals ASCII there). */
export function label(text: string): Uint8Array {
  return encoder.encode(text);
}
