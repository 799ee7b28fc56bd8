/**
 * Tokens that reach the app from outside: a link whose fragment holds a token
 * (`…/app/#[MEDCRYPT:v3:…]`, percent-encoded or not), the Web Share Target (Android's
 * "share to", handled by the service worker, which hands the text over as `#share=<id>`),
 * and paste. None of it ever goes to a server: a fragment is not sent in requests, the
 * worker answers the share POST itself, and the fragment is removed from the address bar
 * and the history entry as soon as it is read.
 *
 * This module only finds token-shaped text; parsing and opening belong to
 * web/src/protocol, which raises typed errors for anything malformed.
 */
const TOKEN = /\[MEDCRYPT:v[0-9]+:[A-Za-z0-9+/=_-]+\]/g;
const MAX_INPUT = 1 << 20; // a shared text longer than 1 MiB is not a handful of tokens

/** Every token-shaped substring of `text`, in order, duplicates dropped. */
export function findTokens(text: string): string[] {
  if (text.length > MAX_INPUT) return [];
  return [...new Set(text.match(TOKEN) ?? [])];
}

export class Inbox {
  private readonly tokens: string[] = [];
  private readonly listeners = new Set<() => void>();

  /** Add what `text` holds; returns how many new tokens it had. */
  receive(text: string): number {
    const found = findTokens(text).filter((tok) => !this.tokens.includes(tok));
    this.tokens.push(...found);
    if (found.length) for (const listener of this.listeners) listener();
    return found.length;
  }

  get size(): number {
    return this.tokens.length;
  }

  /** Hand every waiting token to the screen that opens them, emptying the inbox. */
  take(): string[] {
    const out = this.tokens.splice(0);
    if (out.length) for (const listener of this.listeners) listener();
    return out;
  }

  onChange(listener: () => void): void {
    this.listeners.add(listener);
  }
}

function decodeFragment(fragment: string): string {
  try {
    return decodeURIComponent(fragment);
  } catch {
    return fragment; // a stray "%" is not an error worth more than ignoring the escape
  }
}

/** Ask the controlling service worker for the text of share `id` (it deletes it). */
async function takeShare(id: string): Promise<string> {
  const worker = navigator.serviceWorker?.controller;
  if (!worker) return "";
  const channel = new MessageChannel();
  const answer = new Promise<string>((resolve) => {
    channel.port1.onmessage = (event: MessageEvent<{ text?: unknown }>) =>
      resolve(typeof event.data.text === "string" ? event.data.text : "");
  });
  worker.postMessage({ type: "take-share", id }, [channel.port2]);
  return answer;
}

/**
 * Read the fragment of the current address into `inbox` and erase it from the address
 * bar and this history entry. Returns "token", "none" (shared text without a token) or "empty" (no fragment).
 */
export async function readFragment(inbox: Inbox): Promise<"token" | "none" | "empty"> {
  const fragment = location.hash.slice(1);
  if (!fragment) return "empty";
  history.replaceState(history.state, "", location.pathname + location.search);
  const share = /^share=([0-9a-f]{32})$/.exec(fragment);
  const text = share?.[1] ? await takeShare(share[1]) : decodeFragment(fragment);
  return inbox.receive(text) > 0 ? "token" : "none";
}
