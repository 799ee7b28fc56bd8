/**
 * tests/vectors/v3_upgrade.json: a v2 pairing built from the recorded draws, then
 * UPGRADE_OFFER, UPGRADE_ANSWER, the upgrade transcript, both sides' PairingSecrets, the
 * pinned-key record and the first v3 message each way, byte for byte.
 */

import vectors from "../../../tests/vectors/v3_upgrade.json";
import * as p from "../../src/crypto/primitives.js";
import { acceptOfferV2, completeOfferV2, createOfferV2 } from "../../src/protocol/v2pairing.js";
import { fromOutcomeV2 } from "../../src/protocol/v2session.js";
import { answerUpgrade, finishUpgrade, offerUpgrade } from "../../src/protocol/upgrade.js";
import { offerText } from "../../src/protocol/offer.js";
import { offerHash } from "../../src/protocol/upgradeWire.js";
import { signRecord } from "../../src/protocol/v3pairing.js";
import { type PairingSecrets, decrypt, encrypt, fromPairing } from "../../src/protocol/v3session.js";
import { decodeToken } from "../../src/protocol/text.js";
import { check, checkAsync, same, tally, type Tally } from "./harness.js";
import { Scripted } from "./scripted.js";

const hex = (b: Uint8Array | null): string | null => (b === null ? null : p.toHex(b));

function secretsHex(s: PairingSecrets): string {
  return JSON.stringify(Object.entries({
    role: s.role, pairing_id: hex(s.pairingId), start_epoch: s.startEpoch,
    grace_days: s.graceDays, transcript_hash: hex(s.transcriptHash), root_key: hex(s.rootKey),
    own_identity_private: hex(s.ownIdentityPrivate), peer_identity_public: hex(s.peerIdentityPublic),
    escrow_public: hex(s.escrowPublic), patient_ratchet_public: hex(s.patientRatchetPublic),
    patient_ratchet_private: hex(s.patientRatchetPrivate),
    physician_ratchet_private: hex(s.physicianRatchetPrivate),
    physician_ratchet_public: hex(s.physicianRatchetPublic),
  }).sort());
}

export async function v3UpgradeVectors(): Promise<Tally> {
  await p.ready();
  const t = tally("v3_upgrade.json");
  await checkAsync(t, "v2 pairing, upgrade offer and answer, secrets, record, first v3 messages", async () => {
    const now = new Date(vectors.now);
    const setup = new Scripted(vectors.setup.rng_draws);
    const doctorSeed = setup.rng(32);
    const patientSeed = setup.rng(32);
    const escrowPrivate = setup.rng(32);
    const escrowPublic = p.x25519Public(escrowPrivate);
    same(p.toHex(escrowPublic), vectors.setup.escrow_public);
    const pending = createOfferV2(p.ed25519Public(doctorSeed), { now, rng: setup.rng, escrowPublic,
      botContact: "telegram:@clinic_bot" });
    const accepted = acceptOfferV2(offerText(pending.offer, 1), p.ed25519Public(patientSeed),
      { now, rng: setup.rng });
    const patientV2 = fromOutcomeV2(accepted.outcome, { now, rng: setup.rng });
    const doctorV2 = fromOutcomeV2(completeOfferV2(pending, accepted.acceptToken, { now }),
      { now, rng: setup.rng });
    setup.done();
    same(p.toHex(pending.offer.pairingId), vectors.setup.pairing_id, "pairing id");

    const offerRng = new Scripted(vectors.offer.rng_draws);
    const offer = offerUpgrade(doctorV2, doctorSeed, { now, rng: offerRng.rng });
    offerRng.done();
    same(offer.token, vectors.offer.offer_token, "UPGRADE_OFFER");
    same(p.toHex(offer.offer.raw), vectors.offer.offer_bytes);
    same(p.toHex(offerHash(offer.offer.raw)), vectors.offer.offer_hash);

    const answerRng = new Scripted(vectors.answer.rng_draws);
    const answer = answerUpgrade(offer.token, patientV2, patientSeed, { now, rng: answerRng.rng });
    answerRng.done();
    same(answer.token, vectors.answer.answer_token, "UPGRADE_ANSWER");
    same(p.toHex(decodeToken(answer.token)), vectors.answer.answer_bytes);
    same(p.toHex(answer.secrets.transcriptHash), vectors.answer.transcript_hash, "transcript");

    const physicianSecrets = finishUpgrade(offer, answer.token, doctorV2, doctorSeed, { now });
    const want = (side: "physician" | "patient"): string =>
      JSON.stringify(Object.entries(vectors.secrets[side]).sort());
    same(secretsHex(physicianSecrets), want("physician"), "physician secrets");
    same(secretsHex(answer.secrets), want("patient"), "patient secrets");
    const record = signRecord(doctorSeed, { pairingId: physicianSecrets.pairingId,
      transcriptHash: physicianSecrets.transcriptHash,
      patientIdentity: p.ed25519Public(patientSeed), escrowPublic });
    same(p.toHex(record.raw), vectors.pinned_record, "pinned-key record");

    const physician = fromPairing(physicianSecrets);
    const patient = fromPairing(answer.secrets);
    const firstRng = new Scripted(vectors.first_patient_message.rng_draws);
    const first = encrypt(patient, patientSeed, new TextEncoder().encode("first v3 message after the upgrade"),
      { now, rng: firstRng.rng });
    firstRng.done();
    same(first.token, vectors.first_patient_message.token, "first patient message");
    const opened = await decrypt(physician, first.token, { now });
    const replyRng = new Scripted(vectors.first_physician_message.rng_draws);
    const reply = encrypt(opened.state, doctorSeed, new TextEncoder().encode("first v3 reply"),
      { now, rng: replyRng.rng });
    replyRng.done();
    same(reply.token, vectors.first_physician_message.token, "first physician message");
  });
  return t;
}
