/**
 * Calendar epochs (docs/PROTOCOL.md §2): a UTC month numbered absolutely,
 * `(year - 1970) * 12 + (month - 1)`. Pure date arithmetic; callers pass the instant,
 * read from their injected clock.
 */

import { MalformedToken } from "../crypto/errors.js";

export const DEFAULT_GRACE_DAYS = 7;
export const MAX_GRACE_DAYS = 92;
/** A peer's clock may run this far ahead at a month boundary (§2). */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;
/** First epoch whose start is year 10000. */
export const MAX_EPOCH = (9999 - 1970 + 1) * 12;
const DAY_MS = 86_400_000;

export type Clock = () => Date;

export function epochOf(at: Date): number {
  return (at.getUTCFullYear() - 1970) * 12 + at.getUTCMonth();
}

function checkEpoch(epoch: number): void {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch >= MAX_EPOCH) {
    throw new MalformedToken(`epoch ${epoch} is outside the supported calendar`);
  }
}

/** 00:00 UTC on the first day of month `epoch`, in Unix milliseconds. */
export function epochStartMs(epoch: number): number {
  checkEpoch(epoch);
  return Date.UTC(1970 + Math.floor(epoch / 12), epoch % 12, 1);
}

export function epochEndMs(epoch: number): number {
  checkEpoch(epoch);
  if (epoch + 1 === MAX_EPOCH) {
    return Date.UTC(9999, 11, 31, 23, 59, 59);
  }
  return epochStartMs(epoch + 1);
}

/** The instant `epoch` stops being readable: next month's start plus the grace window. */
export function graceEndMs(epoch: number, graceDays = DEFAULT_GRACE_DAYS): number {
  if (!Number.isInteger(graceDays) || graceDays < 0 || graceDays > MAX_GRACE_DAYS) {
    throw new MalformedToken(`grace window of ${graceDays} days is outside 0..${MAX_GRACE_DAYS}`);
  }
  return epochEndMs(epoch) + graceDays * DAY_MS;
}

/** §2's one readability rule. */
export function isReadable(epoch: number, at: Date, graceDays = DEFAULT_GRACE_DAYS): boolean {
  if (epoch > epochOf(new Date(at.getTime() + CLOCK_SKEW_MS))) {
    return false;
  }
  return at.getTime() < graceEndMs(epoch, graceDays);
}

/** `YYYY-MM` for people. */
export function formatEpoch(epoch: number): string {
  checkEpoch(epoch);
  const year = 1970 + Math.floor(epoch / 12);
  const month = (epoch % 12) + 1;
  return `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}`;
}
