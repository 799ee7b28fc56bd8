/**
 * English strings, the reference catalog: every key here must exist in every other
 * catalog (the type of `esMX` is derived from this object, so a missing key fails
 * `npm run typecheck`). Parameters are written `{name}` and filled by `t()`.
 * Errors from crypto/, protocol/ and keystore/ carry a stable `code`; their text lives
 * here as `error.<code>`, never in the error's message.
 */
import { flowsEn, flowsPluralsEn } from "../flows/strings.js";

export const en = {
  ...flowsEn,
  "app.name": "MedCrypt",
  "app.tagline": "Encrypted messages with your physician. Your keys stay on this device.",
  "nav.label": "Main",
  "nav.home": "Home",
  "nav.settings": "Language",
  "nav.about": "About",
  "home.title": "Welcome",
  "home.body": "MedCrypt turns your messages into locked tokens that only you and your physician can open. The chat app only ever sees the tokens.",
  "home.next": "To begin, set up this device and pair it with your physician.",
  "home.inbox.none": "No messages are waiting.",
  "settings.title": "Language",
  "settings.language.legend": "Language of the app",
  "settings.language.saved": "Language saved.",
  "about.title": "About this app",
  "about.hash.label": "Bundle fingerprint (SHA-256)",
  "about.hash.help": "Compare it with the fingerprint your clinic publishes. Anyone can check a published copy with: medcrypt web-verify URL --expect FINGERPRINT",
  "about.hash.missing": "This copy carries no fingerprint: it was not built by the project's build.",
  "about.offline": "The app works without a network. It never sends your messages anywhere; you share the tokens yourself.",
  "update.title": "An update is ready",
  "update.body": "A new version of MedCrypt was downloaded. It is not running yet. Before you switch, compare its fingerprint with the one your clinic publishes.",
  "update.new": "New version",
  "update.current": "This version",
  "update.switch": "Switch to the new version",
  "update.later": "Not now",
  "update.later.note": "The new version waits. MedCrypt will ask again before you use it.",
  "update.unknown": "(could not be read)",
  "changed.title": "MedCrypt was updated",
  "changed.body": "This version is not the one you approved. Check its fingerprint with your clinic before you unlock anything.",
  "changed.approved": "You approved",
  "changed.running": "Running now",
  "changed.accept": "I checked it: use this version",
  "inbound.received": "A token arrived. It opens once this device is paired.",
  "error.unknown": "Something went wrong ({code}).",
  "inbound.none": "Nothing that looks like a MedCrypt token was shared.",
} as const;

export type MessageKey = keyof typeof en;

/**
 * Texts with a count (`tn(key, count)`): one form per plural category of English. Every
 * other catalog has the same keys, with the categories of its own language.
 */
export const pluralsEn = {
  ...flowsPluralsEn,
  "home.inbox.some": {
    one: "{count} received token is waiting to be opened.",
    other: "{count} received tokens are waiting to be opened.",
  },
} as const;

export type PluralKey = keyof typeof pluralsEn;
