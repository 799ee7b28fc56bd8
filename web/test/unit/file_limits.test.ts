// The warning before sealing a file too large for a chat app (issue 16, "the companions
// warn before sealing a file that is too large for the destination"): the same limits
// and the same container arithmetic as the CLI's send-file (companion/cli/files.py).
import { test } from "node:test";
import assert from "node:assert/strict";

import { APP_FILE_LIMITS, appsTooSmallFor } from "../../src/app/flows/files.js";
import { containerSize } from "../../src/protocol/attachment.js";

/** The largest plaintext whose container still fits `bytes`. */
function largestFitting(bytes: number): number {
  let lo = 0;
  let hi = bytes;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (containerSize(mid) <= bytes) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

test("a file is told too large for exactly the apps its container exceeds", () => {
  assert.deepEqual(appsTooSmallFor(3 * 1024 * 1024), []);
  const [whatsapp, telegram] = APP_FILE_LIMITS;
  const fitsWhatsApp = largestFitting(whatsapp.bytes);
  assert.deepEqual(appsTooSmallFor(fitsWhatsApp), []);
  // Padding buckets: the next size up may land in the same container size; find the
  // first one that does not.
  let over = fitsWhatsApp + 1;
  while (containerSize(over) <= whatsapp.bytes) over += 1;
  assert.deepEqual(appsTooSmallFor(over).map((w) => w.app), ["WhatsApp"]);
  let overBoth = largestFitting(telegram.bytes) + 1;
  while (containerSize(overBoth) <= telegram.bytes) overBoth += 1;
  const both = appsTooSmallFor(overBoth);
  assert.deepEqual(both.map((w) => [w.app, w.label]), [["WhatsApp", "16 MB"], ["Telegram", "20 MB"]]);
  assert.ok(both.every((w) => w.megabytes === containerSize(overBoth) / 1_000_000));
});
