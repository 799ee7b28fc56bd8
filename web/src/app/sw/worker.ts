/**
 * The service worker (served as app/sw.js with its own CSP: `default-src 'none';
 * connect-src 'self'`, only what precaching needs).
 *
 * - install: fetches every content-hashed asset of this build (the list and their SHA-256
 *   are compiled in by web/build.mjs), checks each hash, and fails the install on any
 *   mismatch, so a half-updated or altered server never yields a working worker.
 *   app/index.html is checked in its canonical form (its bundle hash set to zeros), the
 *   same rule `medcrypt web-verify` applies.
 * - fetch: cache-first for everything in its scope; navigations get the cached app page.
 * - never calls skipWaiting() or clients.claim(): an update waits for the user's consent
 *   (web/src/app/update.ts, ADR 0029).
 * - Web Share Target: the POST to ./share is answered here and never reaches the network;
 *   the shared text waits in a cache until the app takes it once (`take-share`).
 */
interface PrecacheEntry {
  readonly path: string;
  readonly sha256: string;
}
declare const __MEDCRYPT_PRECACHE__: readonly PrecacheEntry[];
declare const __MEDCRYPT_PRECACHE_ID__: string;

const worker = globalThis as unknown as ServiceWorkerGlobalScope;
const PREFIX = "medcrypt-precache-";
const CACHE = PREFIX + __MEDCRYPT_PRECACHE_ID__;
const SHARE_CACHE = "medcrypt-share";
const META = /<meta name="medcrypt-bundle-sha256" content="([0-9a-f]{64})">/;
const ZEROS = "0".repeat(64);

const scope = (): string => worker.registration.scope;

function hex(buffer: ArrayBuffer): string {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** app/index.html with its bundle hash replaced by zeros (web/build.mjs, ADR 0029). */
function canonicalIndex(bytes: ArrayBuffer): ArrayBuffer {
  const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  const hash = META.exec(text)?.[1];
  if (!hash || text.split(hash).length !== 2) throw new Error("app page without one bundle hash");
  return new TextEncoder().encode(text.replace(hash, ZEROS)).buffer as ArrayBuffer;
}

async function precache(): Promise<void> {
  const cache = await caches.open(CACHE);
  try {
    for (const entry of __MEDCRYPT_PRECACHE__) {
      const url = new URL(entry.path, scope()).href;
      const response = await fetch(url, { cache: "reload", credentials: "same-origin", redirect: "error" });
      if (!response.ok) throw new Error(`precache: HTTP ${response.status}`);
      const body = await response.clone().arrayBuffer();
      const checked = entry.path === "./" ? canonicalIndex(body) : body;
      if (hex(await crypto.subtle.digest("SHA-256", checked)) !== entry.sha256) {
        throw new Error("precache: an asset does not match this build");
      }
      await cache.put(url, response); // headers kept: the page's CSP comes with it
    }
  } catch (error) {
    await caches.delete(CACHE);
    throw error;
  }
}

worker.addEventListener("install", (event) => event.waitUntil(precache()));

worker.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
    }
  })());
});

async function fromCache(request: Request): Promise<Response> {
  const cache = await caches.open(CACHE);
  const key = request.mode === "navigate" ? scope() : request.url;
  return (await cache.match(key, { ignoreSearch: true })) ?? fetch(request);
}

function randomId(): string {
  return hex(crypto.getRandomValues(new Uint8Array(16)).buffer as ArrayBuffer);
}

async function receiveShare(request: Request): Promise<Response> {
  const form = await request.formData();
  const text = ["title", "text", "url"]
    .map((name) => form.get(name))
    .filter((value): value is string => typeof value === "string" && value.length > 0)
    .join("\n");
  const id = randomId();
  const cache = await caches.open(SHARE_CACHE);
  await cache.put(new URL(`__share/${id}`, scope()).href, new Response(text));
  return Response.redirect(`${scope()}#share=${id}`, 303);
}

worker.addEventListener("fetch", (event) => {
  const request = event.request;
  if (!request.url.startsWith(scope())) return; // not ours: the browser's default
  const path = request.url.slice(scope().length).split(/[?#]/)[0];
  if (request.method === "POST" && path === "share") {
    event.respondWith(receiveShare(request));
  } else if (request.method === "GET") {
    event.respondWith(fromCache(request));
  }
});

async function bundleHash(): Promise<string | null> {
  const page = await (await caches.open(CACHE)).match(scope());
  return page ? META.exec(await page.text())?.[1] ?? null : null;
}

async function takeShare(id: string): Promise<string> {
  const cache = await caches.open(SHARE_CACHE);
  const url = new URL(`__share/${id}`, scope()).href;
  const hit = await cache.match(url);
  await cache.delete(url);
  return hit ? hit.text() : "";
}

worker.addEventListener("message", (event) => {
  const data = event.data as { type?: unknown; id?: unknown } | null;
  const port = event.ports[0];
  if (!port || !data) return;
  if (data.type === "bundle-hash") {
    event.waitUntil(bundleHash().then((hash) => port.postMessage({ hash })));
  } else if (data.type === "take-share" && typeof data.id === "string" && /^[0-9a-f]{32}$/.test(data.id)) {
    event.waitUntil(takeShare(data.id).then((text) => port.postMessage({ text })));
  }
});
