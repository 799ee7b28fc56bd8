/**
 * tests/vectors/v3_pairing.json and v3_pin_record.json through the TypeScript pairing:
 * the recorded draws give byte-identical offers, QR texts, registrations, accepts,
 * codes, KEY_CONFIRM, PairingSecrets, pinned-key records and PIN_RECORD tokens; a second
 * valid accept aborts with the recorded text; and the session that follows works.
 */

import pinVectors from "../../../tests/vectors/v3_pin_record.json";
import vectors from "../../../tests/vectors/v3_pairing.json";
import { DecryptionFailed, QrShared } from "../../src/crypto/errors.js";
import * as p from "../../src/crypto/primitives.js";
import { offerBytes, offerText, publicBytes, admissionValue, registrationToken } from "../../src/protocol/offer.js";
import { acceptHash, admissionHash } from "../../src/protocol/pairingWire.js";
import { encodeRecordToken, parseRecordToken } from "../../src/protocol/recordWire.js";
import { decodeToken, encodeToken } from "../../src/protocol/text.js";
import {
  acceptOffer, confirm, createOffer, fingerprint, receiveAccept, signRecord, verifyConfirmation,
  verifyRecord,
} from "../../src/protocol/v3pairing.js";
import { type PairingSecrets, decrypt, encrypt, fromPairing } from "../../src/protocol/v3session.js";
import { check, checkAsync, expectThrow, same, sameBytes, tally, type Tally } from "./harness.js";
import { Scripted } from "./scripted.js";

const hex = (b: Uint8Array | null): string | null => (b === null ? null : p.toHex(b));

function secretsHex(s: PairingSecrets): Record<string, unknown> {
  return {
    role: s.role, pairing_id: hex(s.pairingId), start_epoch: s.startEpoch,
    grace_days: s.graceDays, transcript_hash: hex(s.transcriptHash), root_key: hex(s.rootKey),
    own_identity_private: hex(s.ownIdentityPrivate), peer_identity_public: hex(s.peerIdentityPublic),
    escrow_public: hex(s.escrowPublic), patient_ratchet_public: hex(s.patientRatchetPublic),
    patient_ratchet_private: hex(s.patientRatchetPrivate),
    physician_ratchet_private: hex(s.physicianRatchetPrivate),
    physician_ratchet_public: hex(s.physicianRatchetPublic),
  };
}

function sortedJson(o: Record<string, unknown>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(o).sort()));
}

export async function v3PairingVectors(): Promise<Tally> {
  await p.ready();
  const t = tally("v3_pairing.json");
  const now = new Date(vectors.now);
  await checkAsync(t, "offer, accept, code, KEY_CONFIRM, secrets and pinned record replay byte for byte", async () => {
    const setup = new Scripted(vectors.setup.rng_draws);
    const doctorSeed = setup.rng(32);
    const patientSeed = setup.rng(32);
    const escrowPrivate = setup.rng(32);
    setup.done();
    same(p.toBase64(doctorSeed, "standard"), vectors.setup.physician_identity_seed);
    same(p.toHex(p.x25519Public(escrowPrivate)), vectors.setup.escrow_public);
    const escrowPublic = p.x25519Public(escrowPrivate);
    const doctor = p.ed25519Public(doctorSeed);

    const offerRng = new Scripted(vectors.offer.rng_draws);
    const made = createOffer(doctor, { now, rng: offerRng.rng, escrowPublic,
      botContact: "telegram:@clinic_bot" });
    offerRng.done();
    const o = made.offer;
    same(p.toHex(offerBytes(o)), vectors.offer.offer_bytes, "offer bytes");
    same(p.toHex(publicBytes(o)), vectors.offer.public_offer, "public offer");
    same(offerText(o), vectors.offer.qr_text, "QR text");
    same(p.toHex(admissionValue(o.offerSecret, o.pairingId)), vectors.offer.admission_value);
    same(p.toHex(admissionHash(o.pairingId, admissionValue(o.offerSecret, o.pairingId))),
      vectors.offer.admission_hash);
    same(registrationToken(o), vectors.offer.registration_token, "registration token");

    const acceptRng = new Scripted(vectors.accept.rng_draws);
    const patient = acceptOffer(vectors.offer.qr_text, patientSeed, { now, rng: acceptRng.rng });
    acceptRng.done();
    same(patient.acceptToken, vectors.accept.accept_token, "accept token");
    same(patient.code, vectors.accept.verification_code, "patient's code");
    same(p.toHex(acceptHash(decodeToken(patient.acceptToken))), vectors.accept.accept_hash);

    const received = receiveAccept(made.state, patient.acceptToken, { now, account: "whatsapp:+1555" });
    same(received.abort, null);
    same(received.screen.code, vectors.accept.verification_code, "physician's code");
    same(received.screen.state, "unverified");
    const done = confirm(received.state, doctorSeed, { now });
    same(done.token, vectors.confirm.key_confirm_token, "KEY_CONFIRM");
    same(done.state.offer, null, "a confirmed offer keeps no secret");
    same(done.state.ephemeral_private, null);
    const verified = verifyConfirmation(patient.state, patientSeed, done.token);
    same(sortedJson(secretsHex(done.secrets)), sortedJson(vectors.secrets.physician), "physician secrets");
    same(sortedJson(secretsHex(verified.secrets)), sortedJson(vectors.secrets.patient), "patient secrets");
    same(verified.state.root, null, "a verified patient state keeps no secret");

    const record = signRecord(doctorSeed, { pairingId: o.pairingId,
      transcriptHash: done.secrets.transcriptHash,
      patientIdentity: p.ed25519Public(patientSeed), escrowPublic });
    same(p.toHex(record.raw), vectors.pinned_record.record, "pinned-key record");
    same(fingerprint(doctor), vectors.pinned_record.physician_fingerprint);
    same(fingerprint(p.ed25519Public(patientSeed)), vectors.pinned_record.patient_fingerprint);
    sameBytes(verifyRecord(record.raw, doctor).patientIdentity, p.ed25519Public(patientSeed));

    // The session that follows the pairing: one message each way.
    const patientSession = fromPairing(verified.secrets);
    const physicianSession = fromPairing(done.secrets);
    const first = encrypt(patientSession, patientSeed, new TextEncoder().encode("hola"), { now });
    const opened = await decrypt(physicianSession, first.token, { now });
    same(new TextDecoder().decode(opened.opened.body), "hola");
    const reply = encrypt(opened.state, doctorSeed, new TextEncoder().encode("ok"), { now });
    same(new TextDecoder().decode((await decrypt(first.state, reply.token, { now })).opened.body), "ok");
  });
  check(t, "a tampered KEY_CONFIRM is refused and the patient stays unverified", () => {
    const setup = new Scripted(vectors.setup.rng_draws);
    setup.rng(32);
    const patientSeed = setup.rng(32);
    const patient = acceptOffer(vectors.offer.qr_text, patientSeed,
      { now, rng: new Scripted(vectors.accept.rng_draws).rng });
    const raw = decodeToken(vectors.confirm.key_confirm_token);
    raw[60] = (raw[60] ?? 0) ^ 1; // inside the MAC, which the signature covers
    expectThrow(DecryptionFailed, () => verifyConfirmation(patient.state, patientSeed, encodeToken(raw)));
    same(patient.state.done, false);
  });
  check(t, "a second valid accept of the same QR aborts with the recorded text", () => {
    const v = vectors.second_accept;
    const setup = new Scripted(v.setup_rng_draws);
    const doctorSeed = setup.rng(32);
    const patientSeed = setup.rng(32);
    const thiefSeed = setup.rng(32);
    const made = createOffer(p.ed25519Public(doctorSeed), { now, rng: setup.rng });
    setup.done();
    same(offerText(made.offer), v.qr_text, "QR text");
    const real = acceptOffer(v.qr_text, patientSeed, { now, rng: new Scripted(v.first.rng_draws).rng });
    const other = acceptOffer(v.qr_text, thiefSeed, { now, rng: new Scripted(v.second.rng_draws).rng });
    same(real.acceptToken, v.first.accept_token);
    same(real.code, v.first.verification_code);
    same(other.acceptToken, v.second.accept_token);
    same(other.code, v.second.verification_code);
    const one = receiveAccept(made.state, real.acceptToken, { now });
    const two = receiveAccept(one.state, other.acceptToken, { now });
    same(two.abort instanceof QrShared, true, "aborted");
    same(two.abort?.message, v.physician_outcome, "outcome text");
    same(two.state.state, "aborted");
    same(two.state.offer, null, "an aborted offer keeps no secret");
    expectThrow(QrShared, () => confirm(two.state, doctorSeed, { now }));
  });
  return t;
}

export async function pinRecordVectors(): Promise<Tally> {
  await p.ready();
  const t = tally("v3_pin_record.json");
  check(t, "record and PIN_RECORD token replay byte for byte", () => {
    const v = pinVectors;
    const rng = new Scripted(v.rng_draws);
    const escrowPrivate = rng.rng(32);
    const pairingId = rng.rng(16);
    const transcript = rng.rng(32);
    const patientSeed = rng.rng(32);
    const physicianSeed = p.fromHex(v.physician_identity_seed);
    const escrowPublic = p.x25519Public(escrowPrivate);
    same(p.toHex(escrowPublic), v.escrow_public);
    const record = signRecord(physicianSeed, { pairingId, transcriptHash: transcript,
      patientIdentity: p.ed25519Public(patientSeed), escrowPublic });
    same(p.toHex(record.raw), v.record, "record");
    const raw = encodeRecordToken(pairingId, record.raw, escrowPublic, rng.rng);
    rng.done();
    same(p.toHex(raw), v.pin_record_token, "PIN_RECORD");
    same(encodeToken(raw), v.pin_record_text, "PIN_RECORD text");
    const parsed = parseRecordToken(decodeToken(v.pin_record_text));
    const opened = verifyRecord(p.sealedBoxOpen(escrowPrivate, parsed.sealed),
      p.fromHex(v.physician_identity_public));
    sameBytes(opened.transcriptHash, p.fromHex(v.transcript_hash));
  });
  return t;
}
