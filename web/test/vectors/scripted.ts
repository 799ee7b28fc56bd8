/** Replays recorded random draws, failing on any difference in count or size. */

import { fromHex } from "../../src/crypto/primitives.js";

export class Scripted {
  readonly #draws: Uint8Array[];

  constructor(draws: string[]) {
    this.#draws = draws.map((d) => fromHex(d));
  }

  readonly rng = (n: number): Uint8Array => {
    const draw = this.#draws.shift();
    if (draw === undefined) {
      throw new Error("the library drew more random bytes than recorded");
    }
    if (draw.length !== n) {
      throw new Error(`the library drew ${n} bytes, the record has ${draw.length}`);
    }
    return draw.slice();
  };

  done(): void {
    if (this.#draws.length !== 0) {
      throw new Error("the library drew fewer random bytes than recorded");
    }
  }
}
