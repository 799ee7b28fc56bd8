/**
 * The v2 vectors: v2_wire.json (layouts, epochs), v2_envelope.json (signed, padded
 * envelopes and the bucket table), v2_keyschedule.json (epoch keys, chain and message
 * keys), and v2_pairing_session.json - every token parsed keylessly, the recorded split
 * into parts, and the whole pairing and session replayed from the recorded draws.
 */

import session from "../../../tests/vectors/v2_pairing_session.json";
import envelopes from "../../../tests/vectors/v2_envelope.json";
import keys from "../../../tests/vectors/v2_keyschedule.json";
import wireVectors from "../../../tests/vectors/v2_wire.json";
import * as p from "../../src/crypto/primitives.js";
import { ContentType, LABEL_V2, bucketSize, open, seal } from "../../src/protocol/envelope.js";
import { epochOf, formatEpoch } from "../../src/protocol/epochs.js";
import { joinParts, splitToken } from "../../src/protocol/parts.js";
import { offerBytes, offerText } from "../../src/protocol/offer.js";
import { advance, chainKey0, chainStep, startKey } from "../../src/protocol/v2keys.js";
import {
  acceptOfferV2, completeOfferV2, createOfferV2, fingerprintV2, registrationTokenV2, safetyNumber,
} from "../../src/protocol/v2pairing.js";
import { decryptV2, encryptV2, fromOutcomeV2 } from "../../src/protocol/v2session.js";
import {
  encodeFileHeader, encodeRegisterV2, encodeSealedHeaderV2, parseFileHeader, parseRaw, parseToken,
} from "../../src/protocol/wire.js";
import { check, same, sameBytes, tally, type Tally } from "./harness.js";
import { Scripted } from "./scripted.js";

const hex = (s: string): Uint8Array => p.fromHex(s);

export async function v2Vectors(): Promise<Tally> {
  await p.ready();
  const t = tally("v2 vectors (wire, envelope, key schedule, tokens, parts)");
  check(t, "v2_wire.json layouts and epochs", () => {
    const pid = Uint8Array.from({ length: 16 }, (_, i) => i);
    const nonce = Uint8Array.from({ length: 24 }, (_, i) => i);
    same(p.toHex(encodeSealedHeaderV2("message", pid, { epoch: 682, direction: 1, index: 258, nonce })),
      wireVectors.message_header, "message header");
    same(p.toHex(encodeRegisterV2(pid, 682, 7, 1795430400)), wireVectors.register, "register");
    const register = parseRaw(hex(wireVectors.register));
    same(register.kind === "register" && register.expiresAt === 1795430400, true, "register parses");
    const fileId = Uint8Array.from({ length: 16 }, (_, i) => 16 + i);
    same(p.toHex(encodeFileHeader(pid, 682, 0, fileId, 2)), wireVectors.file_header, "file header");
    same(parseFileHeader(hex(wireVectors.file_header)).version, 2);
    for (const [month, epoch] of Object.entries(wireVectors.epochs)) {
      same(formatEpoch(epoch), month);
      same(epochOf(new Date(`${month}-15T12:00:00Z`)), epoch);
    }
  });
  check(t, "v2_envelope.json: sealed bytes, opened bodies, bucket table", () => {
    const seed = hex(envelopes.signer_seed);
    sameBytes(p.ed25519Public(seed), hex(envelopes.signer_public));
    const header = hex(envelopes.header);
    const at = new Date(envelopes.sent_at).getTime();
    for (const c of envelopes.cases) {
      const body = hex(c.body);
      const sealed = seal(header, ContentType.TEXT, body, at, (m) => p.ed25519Sign(seed, m), LABEL_V2);
      same(p.toHex(sealed), c.envelope, `envelope of ${body.length} bytes`);
      sameBytes(open(header, sealed, hex(envelopes.signer_public), LABEL_V2).body, body);
    }
    for (const [size, bucket] of Object.entries(envelopes.bucket_sizes)) {
      same(bucketSize(Number(size)), bucket, `bucket(${size})`);
    }
  });
  check(t, "v2_keyschedule.json: epoch keys, chain and message keys", () => {
    const pid = hex(keys.pairing_id);
    let k = startKey(hex(keys.root), keys.start_epoch);
    for (const e of keys.epochs) {
      same(p.toHex(k), e.epoch_key, `K_${e.epoch}`);
      const chains = [e.chains.PATIENT_TO_PHYSICIAN, e.chains.PHYSICIAN_TO_PATIENT];
      chains.forEach((steps, d) => {
        let ck = chainKey0(k, pid, d as 0 | 1, e.epoch);
        for (const s of steps) {
          same(p.toHex(ck), s.ck, "CK_n");
          const [mk, next] = chainStep(ck);
          same(p.toHex(mk), s.mk, "MK_n");
          ck = next;
        }
      });
      k = advance(k, e.epoch + 1);
    }
  });
  check(t, "v2_pairing_session.json: every token parses; the recorded split and any-order join", () => {
    same(parseToken(session.offer.registration_token).kind, "register");
    same(parseToken(session.accept.accept_token).kind, "accept");
    for (const m of session.messages) {
      const token = parseToken(m.token);
      same(token.kind, "message");
      if (m.escrow_deposit !== null) {
        same(parseToken(m.escrow_deposit).kind, "deposit");
      }
    }
    const long = session.messages[session.parts.token_message]?.token ?? "";
    const rng = new Scripted(session.parts.rng_draws);
    const pieces = splitToken(long, session.parts.max_chars, rng.rng);
    rng.done();
    same(JSON.stringify(pieces), JSON.stringify(session.parts.parts), "parts");
    same(joinParts([...session.parts.parts].reverse()), long, "joined");
  });
  return t;
}

/**
 * v2_pairing_session.json replayed: offer, accept, first key, safety number, both
 * sessions from their recorded draws, every message token and escrow deposit byte for
 * byte, each opened by a copy of the peer, and the deposit opening to the month's key.
 */
export async function v2PairingSessionVectors(): Promise<Tally> {
  await p.ready();
  const t = tally("v2_pairing_session.json (pairing, sessions, messages, deposit)");
  check(t, "replay", () => {
    const setup = session.setup;
    const now = new Date(setup.now);
    const physicianSeed = p.fromBase64(setup.physician_identity_seed, "standard");
    const patientSeed = p.fromBase64(setup.patient_identity_seed, "standard");
    const physicianPub = p.ed25519Public(physicianSeed);
    const patientPub = p.ed25519Public(patientSeed);
    const offerRng = new Scripted(session.offer.rng_draws);
    const pending = createOfferV2(physicianPub, { now, rng: offerRng.rng,
      escrowPublic: hex(setup.escrow_public), botContact: "telegram:@clinic_bot" });
    offerRng.done();
    same(p.toHex(offerBytes(pending.offer, 1)), session.offer.offer_bytes, "offer bytes");
    same(offerText(pending.offer, 1), session.offer.qr_text, "QR text");
    same(registrationTokenV2(pending.offer), session.offer.registration_token, "registration");
    const acceptRng = new Scripted(session.accept.rng_draws);
    const accepted = acceptOfferV2(session.offer.qr_text, patientPub, { now, rng: acceptRng.rng });
    acceptRng.done();
    same(accepted.acceptToken, session.accept.accept_token, "accept token");
    same(p.toHex(accepted.outcome.transcriptHash), session.accept.transcript_hash);
    same(p.toHex(accepted.outcome.startKey), session.accept.start_key, "first key");
    same(safetyNumber(patientPub, physicianPub), session.accept.safety_number, "safety number");
    same(fingerprintV2(patientPub), session.accept.patient_fingerprint);
    same(fingerprintV2(physicianPub), session.accept.physician_fingerprint);
    const entry = session.session_entry;
    const pRng = new Scripted(entry.patient_rng_draws);
    let patient = fromOutcomeV2(accepted.outcome, { now, rng: pRng.rng });
    pRng.done();
    const dRng = new Scripted(entry.physician_rng_draws);
    let physician = fromOutcomeV2(completeOfferV2(pending, session.accept.accept_token, { now }),
      { now, rng: dRng.rng });
    dRng.done();
    let readers = { patient: physician, physician: patient };
    for (const m of session.messages) {
      const at = new Date(m.now);
      const rng = new Scripted(m.rng_draws);
      const sender = m.sender as "patient" | "physician";
      const seed = sender === "patient" ? patientSeed : physicianSeed;
      const out = encryptV2(sender === "patient" ? patient : physician, seed, hex(m.body),
        { now: at, rng: rng.rng, contentType: m.content_type as 1 | 2 | 3 });
      rng.done();
      same(out.token, m.token, "token");
      same(out.escrowDeposit, m.escrow_deposit, "escrow deposit");
      if (sender === "patient") {
        patient = out.state;
      } else {
        physician = out.state;
      }
      const opened = decryptV2(readers[sender], m.token, { now: at });
      readers = { ...readers, [sender]: opened.state };
      same(p.toHex(opened.opened.body), m.body, "opened body");
      same(opened.opened.sentAtMs, at.getTime(), "sent at");
    }
    const deposit = parseToken(session.escrow.deposit);
    if (deposit.kind !== "deposit") {
      throw new Error("not a deposit");
    }
    const inner = p.sealedBoxOpen(hex(setup.escrow_private), deposit.raw.subarray(51));
    sameBytes(inner.subarray(0, 51), deposit.raw.subarray(0, 51), "sealed header");
    same(p.toHex(inner.subarray(51, 83)), session.escrow.epoch_key, "epoch key");
  });
  return t;
}
