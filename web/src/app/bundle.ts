/**
 * The bundle fingerprint of the running copy. The build writes it into
 * `app/index.html` as `<meta name="medcrypt-bundle-sha256">` (web/build.mjs says what it
 * covers); the page cannot fetch anything (`connect-src 'none'`), so the document it was
 * loaded with is where it reads it from.
 */
export const BUNDLE_META = "medcrypt-bundle-sha256";
const HEX64 = /^[0-9a-f]{64}$/;
const UNSET = "0".repeat(64);

/** The running bundle's SHA-256 (hex), or null for a copy not made by the build. */
export function runningBundleHash(doc: Document = document): string | null {
  const value = doc.querySelector(`meta[name="${BUNDLE_META}"]`)?.getAttribute("content") ?? "";
  return HEX64.test(value) && value !== UNSET ? value : null;
}

/** The hash in groups of four, so a person can compare it aloud or by eye. */
export function groupHash(hex: string): string {
  return hex.replace(/(.{4})(?=.)/g, "$1 ");
}
