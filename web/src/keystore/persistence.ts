/**
 * Storage that the browser may purge, and what the app needs to warn about it.
 *
 * A browser can evict an origin's IndexedDB: Chromium and Firefox under storage
 * pressure unless `navigator.storage.persist()` was granted; Safari (WebKit's
 * Intelligent Tracking Prevention) deletes all script-writable storage of a site not
 * used for 7 days of browser use, whatever `persist()` says - a home-screen web app has
 * its own day counter. A purge deletes the keystore and with it every pairing: the only
 * protection is an encrypted export the user keeps elsewhere, so the setup screen warns
 * and asks for one, and the app asks again when a pairing was added since the last.
 */

export type PurgeRisk =
  /** WebKit (Safari, and every browser on iOS): 7 days without use deletes the keystore. */
  | "webkit-7-days"
  /** Persistence was not granted: the browser may evict under storage pressure. */
  | "best-effort"
  /** Persistence granted: evicted only if the user clears site data. */
  | "persistent";

export interface StorageReport {
  /** What `navigator.storage.persist()` answered (null: the API is missing). */
  readonly persistGranted: boolean | null;
  readonly risk: PurgeRisk;
  /** Whether the app runs installed (standalone display), which WebKit counts apart. */
  readonly installed: boolean;
}

/** WebKit without Blink: Safari on macOS, and every iOS browser (all use WebKit there). */
export function isWebKitPurgingBrowser(userAgent: string): boolean {
  const ios = /\b(iPhone|iPad|iPod)\b/.test(userAgent);
  const webkitOnly = /AppleWebKit/.test(userAgent) && !/(Chrome|Chromium|Edg|OPR|Android)\//.test(userAgent);
  return ios || webkitOnly;
}

/** Ask for persistent storage (call at setup) and report what the app should tell the user. */
export async function requestPersistence(): Promise<StorageReport> {
  const storage = globalThis.navigator?.storage;
  let granted: boolean | null = null;
  if (storage !== undefined && typeof storage.persist === "function") {
    try {
      granted = await storage.persist();
    } catch {
      granted = false;
    }
  }
  return report(granted);
}

/** The same report without asking again (for the settings screen). */
export async function currentPersistence(): Promise<StorageReport> {
  const storage = globalThis.navigator?.storage;
  const granted = storage !== undefined && typeof storage.persisted === "function"
    ? await storage.persisted().catch(() => false) : null;
  return report(granted);
}

function report(granted: boolean | null): StorageReport {
  const ua = globalThis.navigator?.userAgent ?? "";
  const installed = typeof globalThis.matchMedia === "function"
    && globalThis.matchMedia("(display-mode: standalone)").matches;
  const risk: PurgeRisk = isWebKitPurgingBrowser(ua) ? "webkit-7-days" : granted === true ? "persistent" : "best-effort";
  return { persistGranted: granted, risk, installed };
}
