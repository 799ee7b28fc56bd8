/**
 * tests/vectors/v3_session.json through the TypeScript session: the recorded draws
 * replayed through the injected RNG reproduce every token and both canonical
 * `medcrypt-session/3` documents byte for byte, messages open in the recorded order,
 * shredded months refuse with EpochShredded, and the recorded deposit opens.
 */

import vectors from "../../../tests/vectors/v3_session.json";
import { EpochShredded } from "../../src/crypto/errors.js";
import * as p from "../../src/crypto/primitives.js";
import { openDeposit } from "../../src/protocol/deposit.js";
import { decodeToken } from "../../src/protocol/text.js";
import {
  type PairingSecrets, decrypt, encrypt, fromPairing, sessionDocumentText, shredDue,
} from "../../src/protocol/v3session.js";
import type { SessionDocument } from "../../src/protocol/v3state.js";
import { parseMessage } from "../../src/protocol/v3wire.js";
import { check, checkAsync, expectReject, same, sameBytes, tally, type Tally } from "./harness.js";
import { Scripted } from "./scripted.js";

const utf8 = new TextEncoder();
const text = new TextDecoder();

interface Pair {
  patient: SessionDocument; physician: SessionDocument;
  patientSeed: Uint8Array; physicianSeed: Uint8Array;
  pinned: { pairingId: Uint8Array; transcriptHash: Uint8Array; patientIdentity: Uint8Array;
    physicianIdentity: Uint8Array; escrowPublic: Uint8Array };
}

/** tests/support/v3pairs.py's make_v3_pair: the same draws in the same order. */
export function makePair(rng: (n: number) => Uint8Array, startEpoch: number, graceDays: number): Pair {
  const patientSeed = rng(32);
  const physicianSeed = rng(32);
  const escrowPrivate = rng(32);
  const escrowPublic = p.x25519Public(escrowPrivate);
  const pairingId = rng(16);
  const transcript = rng(32);
  const root = rng(32);
  const epPrivate = rng(32);
  const epPublic = p.x25519Public(epPrivate);
  const edPrivate = rng(32);
  const edPublic = p.x25519Public(edPrivate);
  const patientIdentity = p.ed25519Public(patientSeed);
  const physicianIdentity = p.ed25519Public(physicianSeed);
  const secrets = (role: "patient" | "physician"): PairingSecrets => ({
    role, pairingId, startEpoch, graceDays, transcriptHash: transcript, rootKey: root.slice(),
    ownIdentityPrivate: (role === "patient" ? patientSeed : physicianSeed).slice(),
    peerIdentityPublic: role === "patient" ? physicianIdentity : patientIdentity,
    escrowPublic, patientRatchetPublic: epPublic,
    patientRatchetPrivate: role === "patient" ? epPrivate.slice() : null,
    physicianRatchetPrivate: role === "patient" ? null : edPrivate.slice(),
    physicianRatchetPublic: edPublic,
  });
  return {
    patient: fromPairing(secrets("patient")), physician: fromPairing(secrets("physician")),
    patientSeed, physicianSeed,
    pinned: { pairingId, transcriptHash: transcript, patientIdentity, physicianIdentity, escrowPublic },
  };
}

type Side = "patient" | "physician";

export async function v3SessionVectors(): Promise<Tally> {
  await p.ready();
  const t = tally("v3_session.json");
  const setup = vectors.setup;
  const rng = new Scripted(setup.rng_draws);
  let pair: Pair | null = null;
  check(t, "setup: pairing hand-over gives both recorded documents", () => {
    pair = makePair(rng.rng, setup.start_epoch, setup.grace_days);
    rng.done();
    same(sessionDocumentText(pair.patient), setup.patient_state, "patient document");
    same(sessionDocumentText(pair.physician), setup.physician_state, "physician document");
  });
  if (pair === null) {
    return t;
  }
  const sides: Record<Side, SessionDocument> = { patient: (pair as Pair).patient,
    physician: (pair as Pair).physician };
  const seeds: Record<Side, Uint8Array> = { patient: (pair as Pair).patientSeed,
    physician: (pair as Pair).physicianSeed };
  let held: [Side, string][] = [];
  for (const step of vectors.steps) {
    let ok = true;
    await checkAsync(t, step.label, async () => {
      const now = new Date(step.now);
      for (const name of ["patient", "physician"] as const) {
        const before = sides[name];
        const r = shredDue(before, now);
        same(JSON.stringify(r.shredded), JSON.stringify(step.shredded_first[name]),
          `${name} shredded`);
        sides[name] = r.state;
      }
      const sender = step.sender as Side;
      const s = new Scripted(step.rng_draws);
      const before = sessionDocumentText(sides[sender]);
      const out = encrypt(sides[sender], seeds[sender], utf8.encode(step.body), { now, rng: s.rng });
      s.done();
      same(sessionDocumentText(sides[sender]), before, "caller's document left untouched");
      same(out.token, step.token, "token");
      sides[sender] = out.state;
      const receiver: Side = sender === "patient" ? "physician" : "patient";
      held.push([receiver, out.token]);
      if (step.opened.length) {
        const mine = held.filter(([who]) => who === receiver).map(([, tok]) => tok).reverse();
        const got: string[] = [];
        for (const token of mine) {
          const r = await decrypt(sides[receiver], token, { now });
          sides[receiver] = r.state;
          got.push(text.decode(r.opened.body));
        }
        same(JSON.stringify(got), JSON.stringify(step.opened), "opened bodies");
        held = held.filter(([who]) => who !== receiver);
      }
      same(sessionDocumentText(sides.patient), step.patient_state, "patient document");
      same(sessionDocumentText(sides.physician), step.physician_state, "physician document");
    });
    if (t.failures.length) {
      ok = false;
    }
    if (!ok) {
      break;
    }
  }
  for (const side of ["patient", "physician"] as const) {
    await checkAsync(t, `${side}: a token of the shredded month is EpochShredded`, async () => {
      const step = vectors.steps.find((s) => s.shredded_first[side].length > 0);
      if (step === undefined) {
        throw new Error("no shredding step recorded");
      }
      const month = step.shredded_first[side][0];
      const state = JSON.parse(step[`${side}_state`]) as SessionDocument;
      let seen = 0;
      for (const s of vectors.steps) {
        const h = parseMessage(decodeToken(s.token)).header;
        if (h.epoch === month && h.direction !== (side === "patient" ? 0 : 1)) {
          await expectReject(EpochShredded, () => decrypt(state, s.token, { now: new Date(step.now) }));
          seen += 1;
        }
      }
      same(seen > 0, true, "a token of the month was tried");
    });
  }
  check(t, "the recorded deposit opens with the escrow key and its key opens message 0", () => {
    const d = vectors.deposit;
    const sealed = p.fromHex(d.sealed);
    sameBytes(p.sealedBoxOpen(p.fromHex(d.escrow_private), sealed), p.fromHex(d.plaintext));
    const opened = openDeposit(p.fromHex(d.escrow_private), sealed, (pair as Pair).pinned);
    same(opened.epoch, d.epoch);
    same(opened.direction, d.direction);
    sameBytes(opened.chainId, p.fromHex(d.chain_id));
    sameBytes(opened.chainKey, p.fromHex(d.chain_key));
    const first = parseMessage(decodeToken(vectors.steps[0]?.token ?? ""));
    const inner = p.xchachaDecrypt(p.fromHex(d.message_key_0), first.header.nonce, first.body,
      first.header.raw);
    const body = utf8.encode(vectors.steps[0]?.body ?? "x");
    same(p.toHex(inner).includes(p.toHex(body)), true, "body inside");
  });
  return t;
}
