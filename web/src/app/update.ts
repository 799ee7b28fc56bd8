/**
 * Service worker registration and updates that wait for the user's consent (ADR 0029).
 *
 * The worker (sw/worker.ts) never calls skipWaiting() or clients.claim(). A new version
 * the browser finds therefore installs as a *waiting* worker and can only activate once no
 * page uses the old one. The consent path is built around that:
 *
 * 1. An update is found while the app runs (`updatefound`, or a worker already waiting
 *    at start): the app opens a modal dialog that blocks every other control, asks the
 *    waiting worker for its bundle fingerprint and shows it beside the running one.
 * 2. "Switch": the app records the new fingerprint as approved, tells its other tabs to
 *    leave too, and navigates to the entry page one level up, which is outside the
 *    worker's scope. With no page left on the old worker, the browser activates the new
 *    one; the entry page then opens app/ again, now served by the new worker.
 * 3. "Not now" (or closing the app): the old version keeps running. When every page of
 *    the old one is gone the browser activates the new worker anyway - that much no page
 *    can stop without skipWaiting - so at start the app compares its own fingerprint with
 *    the approved one and blocks use until the user accepts the change. That second gate
 *    runs in the NEW code: it protects against an unnoticed honest update, not against a
 *    hostile server (docs/THREAT_MODEL.md, "Who serves the web bundle").
 */
import { groupHash, runningBundleHash } from "./bundle.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";

const APPROVED_KEY = "medcrypt.approvedBundle";
const CHANNEL = "medcrypt-update";
const WORKER_URL = "./sw.js";
const HEX64 = /^[0-9a-f]{64}$/;

interface TrustedTypePolicyLike {
  createScriptURL(input: string): unknown;
}
interface TrustedTypesLike {
  createPolicy(name: string, rules: { createScriptURL(input: string): string }): TrustedTypePolicyLike;
}

/**
 * The CSP requires Trusted Types for script URLs, and `serviceWorker.register` is such a
 * sink: this one policy lets exactly the worker's own URL through and nothing else.
 */
function workerScriptURL(): string {
  const tt = (globalThis as { trustedTypes?: TrustedTypesLike }).trustedTypes;
  if (!tt) return WORKER_URL;
  const policy = tt.createPolicy("medcrypt-sw", {
    createScriptURL(input: string): string {
      if (input !== WORKER_URL) throw new TypeError("only the app's own service worker");
      return input;
    },
  });
  return policy.createScriptURL(WORKER_URL) as string;
}

function storage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

export function approvedHash(): string | null {
  const value = storage()?.getItem(APPROVED_KEY) ?? null;
  return value && HEX64.test(value) ? value : null;
}

function approve(hash: string): void {
  storage()?.setItem(APPROVED_KEY, hash);
}

/** The fingerprint a (waiting) worker's precached app/index.html carries. */
function askBundleHash(worker: ServiceWorker): Promise<string | null> {
  const channel = new MessageChannel();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), 5000);
    channel.port1.onmessage = (event: MessageEvent<{ hash?: unknown }>) => {
      clearTimeout(timer);
      const hash = event.data.hash;
      resolve(typeof hash === "string" && HEX64.test(hash) ? hash : null);
    };
    worker.postMessage({ type: "bundle-hash" }, [channel.port2]);
  });
}

function hashBlock(label: string, hash: string | null, attr: string): HTMLElement {
  return h("div", {}, h("dt", {}, label),
    h("dd", { class: "hash", [attr]: hash ?? "" }, hash ? groupHash(hash) : t("update.unknown")));
}

/** A modal dialog that Escape cannot dismiss: only its buttons end it. */
function blockingDialog(id: string, ...content: HTMLElement[]): HTMLDialogElement {
  const dialog = h("dialog", { id, "aria-labelledby": `${id}-title` }, ...content);
  dialog.addEventListener("cancel", (event) => event.preventDefault());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/** Leave the old version so the waiting worker can activate (see step 2 above). */
function leaveForUpdate(): void {
  location.replace(new URL("../", location.href).href);
}

let offered: ServiceWorker | null = null;

async function offerUpdate(worker: ServiceWorker): Promise<void> {
  if (offered === worker || document.getElementById("update-dialog")) return;
  offered = worker;
  const next = await askBundleHash(worker);
  const switchButton = h("button", { type: "button", class: "primary", "data-action": "switch" },
    t("update.switch"));
  const laterButton = h("button", { type: "button", "data-action": "later" }, t("update.later"));
  const dialog = blockingDialog("update-dialog",
    h("h2", { id: "update-dialog-title" }, t("update.title")),
    h("p", {}, t("update.body")),
    h("dl", {}, hashBlock(t("update.new"), next, "data-new-hash"),
      hashBlock(t("update.current"), runningBundleHash(), "data-current-hash")),
    h("p", { class: "muted" }, t("update.later.note")),
    h("div", { class: "actions" }, switchButton, laterButton));
  switchButton.addEventListener("click", () => {
    if (next) approve(next);
    new BroadcastChannel(CHANNEL).postMessage({ type: "switch" });
    leaveForUpdate();
  });
  laterButton.addEventListener("click", () => {
    dialog.close();
    dialog.remove();
  });
}

/**
 * At start: block use when the running version is not the approved one (step 3), and
 * approve the first version ever run (trust on first use; the About screen shows it).
 * Resolves once the app may be used.
 */
export function gateOnChangedBundle(): Promise<void> {
  const running = runningBundleHash();
  const approved = approvedHash();
  if (!running) return Promise.resolve();
  if (!approved) {
    approve(running);
    return Promise.resolve();
  }
  if (approved === running) return Promise.resolve();
  return new Promise((resolve) => {
    const accept = h("button", { type: "button", class: "primary", "data-action": "accept" },
      t("changed.accept"));
    const dialog = blockingDialog("changed-dialog",
      h("h2", { id: "changed-dialog-title" }, t("changed.title")),
      h("p", {}, t("changed.body")),
      h("dl", {}, hashBlock(t("changed.running"), running, "data-current-hash"),
        hashBlock(t("changed.approved"), approved, "data-approved-hash")),
      h("div", { class: "actions" }, accept));
    accept.addEventListener("click", () => {
      approve(running);
      dialog.close();
      dialog.remove();
      resolve();
    });
  });
}

/** Register the worker and watch for updates; never throws (offline use goes on). */
export async function startUpdates(): Promise<void> {
  const container = navigator.serviceWorker;
  if (!container) return;
  new BroadcastChannel(CHANNEL).onmessage = (event: MessageEvent<{ type?: unknown }>) => {
    if (event.data.type === "switch") leaveForUpdate();
  };
  let registration: ServiceWorkerRegistration;
  try {
    registration = await container.register(workerScriptURL(), {
      scope: "./", type: "classic", updateViaCache: "none" });
  } catch {
    return; // no worker (private mode, storage off): the app still runs, online only
  }
  const consider = (worker: ServiceWorker | null): void => {
    // Only an update needs consent: the very first worker has no page it would replace.
    if (worker && container.controller) void offerUpdate(worker);
  };
  consider(registration.waiting);
  registration.addEventListener("updatefound", () => {
    const worker = registration.installing;
    worker?.addEventListener("statechange", () => {
      if (worker.state === "installed") consider(registration.waiting ?? worker);
    });
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") void registration.update().catch(() => undefined);
  });
}
