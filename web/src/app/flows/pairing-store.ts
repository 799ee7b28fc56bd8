/**
 * Pairing steps as keystore transactions: each step of web/src/protocol/v3pairing.ts
 * runs inside `Keystore.transact`, so its new state (the patient's ephemeral key, the
 * physician's offer secret, the new ratchet session) is durably committed before the
 * token it produced is returned to a screen that shows or shares it (commit before show,
 * ADR 0030). A step that throws changes nothing.
 *
 * Document members this module owns (inside the sealed document):
 *   pairing_pending: { <pairing id hex>: { role, name, state, code } }  -- in progress
 *   pairings[<id>]: { session, name, role, code, verified, paired_at }  -- done
 * `code` (the verification code) is kept because the patient's root key is wiped once
 * KEY_CONFIRM is checked, and the verification screen shows the code again; it is a
 * short authentication string, not a secret.
 */
import { fromBase64, fromHex, toHex, wipe } from "../../crypto/primitives.js";
import { PairingCancelled, QrShared } from "../../crypto/errors.js";
import type { Json, JsonObject, Keystore, KeystoreDocument } from "../../keystore/index.js";
import { offerText, parseOfferBytes, parseOfferText, registrationToken } from "../../protocol/offer.js";
import {
  acceptOffer, confirm, createOffer, markVerified, receiveAccept, verifyConfirmation,
  type PatientPairingDocument, type PhysicianPairingDocument,
} from "../../protocol/v3pairing.js";
import { describe, fromPairing, type PairingSecrets } from "../../protocol/v3session.js";
import type { SessionDocument } from "../../protocol/v3state.js";
import { findTokens } from "../inbound.js";
import { identityPublic, identitySeed } from "./vault.js";

/**
 * The token in pasted chat text: what a chat shows is pasted whole, the bot's notices
 * included (as the CLI takes it). The first token-shaped part is used; text without one
 * goes to the parser as it is, so the user gets its typed error.
 */
export function pastedToken(text: string): string {
  return findTokens(text)[0] ?? text.trim();
}

export type Role = "patient" | "physician";

export interface Pending {
  readonly role: Role;
  readonly name: string;
  readonly state: PatientPairingDocument | PhysicianPairingDocument;
  readonly code: string | null;
}

export interface PairingView {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly code: string | null;
  readonly verified: boolean;
}

type Clock = () => Date;

function pendingOf(doc: KeystoreDocument): Record<string, Pending> {
  const p = doc["pairing_pending"];
  return p !== null && typeof p === "object" && !Array.isArray(p) ? (p as unknown as Record<string, Pending>) : {};
}

function withPending(doc: KeystoreDocument, id: string, value: Pending | null): KeystoreDocument {
  const all = { ...pendingOf(doc) };
  if (value === null) delete all[id];
  else all[id] = value;
  return { ...doc, pairing_pending: all as unknown as Json };
}

export function pending(doc: KeystoreDocument, id: string): Pending | null {
  const all = pendingOf(doc);
  return Object.hasOwn(all, id) ? all[id] ?? null : null;
}

/** The finished pairing's record, with the session from the confirmed secrets. */
function finished(doc: KeystoreDocument, id: string, p: Pending, secrets: PairingSecrets,
  verified: boolean, now: Date): KeystoreDocument {
  const session = fromPairing(secrets);
  wipe(secrets.rootKey);
  wipe(secrets.ownIdentityPrivate);
  wipe(secrets.patientRatchetPrivate);
  wipe(secrets.physicianRatchetPrivate);
  const record: JsonObject = {
    session: session as unknown as Json, name: p.name, role: p.role, code: p.code,
    paired_at: now.toISOString(),
    verified: verified
      ? markVerified(secrets.pairingId, secrets.peerIdentityPublic, Math.floor(now.getTime() / 1000)) as unknown as Json
      : null,
  };
  const next = withPending(doc, id, null);
  return { ...next, pairings: { ...next.pairings, [id]: record } };
}

/** Patient: answer an offer (scanned or pasted). The accept token comes back committed. */
export function patientAccept(store: Keystore, offer: string, name: string, now: Clock):
  Promise<{ id: string; acceptToken: string; code: string }> {
  return store.transact((doc) => {
    const id = toHex(parseOfferText(offer).pairingId);
    const seed = identitySeed(doc);
    try {
      const r = acceptOffer(offer, seed, { now: now() });
      const next = withPending(doc, id, { role: "patient", name, state: r.state, code: r.code });
      return { doc: next, output: { id, acceptToken: r.acceptToken, code: r.code } };
    } finally {
      wipe(seed);
    }
  });
}

/** Patient: check the physician's KEY_CONFIRM and start the session. */
export function patientConfirm(store: Keystore, id: string, token: string, now: Clock): Promise<void> {
  return store.transact((doc) => {
    const p = pending(doc, id);
    if (p === null || p.role !== "patient") throw new PairingCancelled("no pairing in progress");
    const seed = identitySeed(doc);
    try {
      const r = verifyConfirmation(p.state as PatientPairingDocument, seed, pastedToken(token));
      return { doc: finished(doc, id, p, r.secrets, false, now()), output: undefined };
    } finally {
      wipe(seed);
    }
  });
}

/** Physician: a fresh offer; its text comes back after the offer secret is committed. */
export function physicianOffer(store: Keystore, name: string, now: Clock):
  Promise<{ id: string; text: string; register: string }> {
  return store.transact((doc) => {
    const r = createOffer(identityPublic(doc), { now: now() });
    const id = toHex(r.offer.pairingId);
    const text = offerText(r.offer);
    // The bot admits an accept only for a registered offer (PROTOCOL §30): the
    // registration token goes to the clinic's bot first, from the physician's chat.
    const register = registrationToken(r.offer);
    wipe(r.offer.offerSecret);
    return { doc: withPending(doc, id, { role: "physician", name, state: r.state, code: null }),
      output: { id, text, register } };
  });
}

/**
 * Physician: one relayed accept. The code comes back to show; a second valid accept
 * commits the aborted state and then throws QrShared.
 */
export async function physicianReceive(store: Keystore, id: string, token: string, now: Clock): Promise<string> {
  const out = await store.transact((doc) => {
    const p = pending(doc, id);
    if (p === null || p.role !== "physician") throw new PairingCancelled("no pairing in progress");
    const r = receiveAccept(p.state as PhysicianPairingDocument, pastedToken(token), { now: now() });
    const next = withPending(doc, id, { ...p, state: r.state, code: r.abort ? null : r.screen.code });
    return { doc: next, output: { code: r.screen.code, aborted: r.abort !== null } };
  });
  if (out.aborted || out.code === null) throw new QrShared();
  return out.code;
}

/** Physician: the codes match. KEY_CONFIRM comes back after the session is committed. */
export function physicianConfirm(store: Keystore, id: string, now: Clock): Promise<string> {
  return store.transact((doc) => {
    const p = pending(doc, id);
    if (p === null || p.role !== "physician") throw new PairingCancelled("no pairing in progress");
    const seed = identitySeed(doc);
    try {
      const r = confirm(p.state as PhysicianPairingDocument, seed, { now: now() });
      // The physician confirmed after comparing the codes: that is the verification.
      return { doc: finished(doc, id, p, r.secrets, true, now()), output: r.token };
    } finally {
      wipe(seed);
    }
  });
}

/** Physician: the codes differ (or the user gave up): nothing is sent. */
export function physicianCancel(store: Keystore, id: string): Promise<void> {
  return store.transact((doc) => {
    // The whole record goes (offer secret, ephemeral key, candidate): nothing to keep.
    if (pending(doc, id) === null) return { doc, output: undefined };
    return { doc: withPending(doc, id, null), output: undefined };
  });
}

/** Mark a finished pairing verified (the user compared the codes). */
export function markPairingVerified(store: Keystore, id: string, now: Clock): Promise<void> {
  return store.transact((doc) => {
    const rec = doc.pairings[id];
    if (rec === undefined) throw new PairingCancelled("no such pairing");
    const facts = describe(rec["session"] as unknown as SessionDocument);
    const verified = markVerified(fromHex(id), facts.peerIdentity, Math.floor(now().getTime() / 1000));
    return { doc: { ...doc, pairings: { ...doc.pairings, [id]: { ...rec, verified: verified as unknown as Json } } },
      output: undefined };
  });
}

/** Finished pairings as the screens list them (no secret). */
export function pairingViews(doc: KeystoreDocument): PairingView[] {
  return Object.entries(doc.pairings).map(([id, rec]) => ({
    id,
    name: typeof rec["name"] === "string" ? rec["name"] : id.slice(0, 8),
    role: rec["role"] === "physician" ? "physician" : "patient",
    code: typeof rec["code"] === "string" ? rec["code"] : null,
    verified: rec["verified"] !== null && typeof rec["verified"] === "object",
  }));
}

/** Where an in-progress pairing stands, to resume it after a reload (no secret leaves). */
export type Resume =
  | { kind: "patient-wait"; id: string; acceptToken: string; code: string }
  | { kind: "physician-wait"; id: string; text: string; register: string }
  | { kind: "physician-code"; id: string; code: string };

export function resumable(doc: KeystoreDocument): { id: string; name: string; step: Resume }[] {
  const out: { id: string; name: string; step: Resume }[] = [];
  for (const [id, p] of Object.entries(pendingOf(doc))) {
    if (p.role === "patient") {
      const st = p.state as PatientPairingDocument;
      if (!st.done && p.code) out.push({ id, name: p.name, step: { kind: "patient-wait", id, acceptToken: st.accept_token, code: p.code } });
      continue;
    }
    const st = p.state as PhysicianPairingDocument;
    if (st.state === "unverified" && p.code) {
      out.push({ id, name: p.name, step: { kind: "physician-code", id, code: p.code } });
    } else if (st.state === "waiting" && st.offer !== null) {
      const offer = parseOfferBytes(fromBase64(st.offer, "standard"));
      const step: Resume = { kind: "physician-wait", id, text: offerText(offer), register: registrationToken(offer) };
      wipe(offer.offerSecret);
      out.push({ id, name: p.name, step });
    }
  }
  return out;
}
