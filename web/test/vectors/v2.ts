/**
 * The v2 vectors the web companion can check without a v2 session of its own:
 * v2_wire.json (layouts, epochs), v2_envelope.json (signed, padded envelopes and the
 * bucket table), v2_keyschedule.json (epoch keys, chain and message keys), and from
 * v2_pairing_session.json every token parsed keylessly plus the recorded split into parts.
 * (Replaying the v2 pairing and session themselves is not ported: the web never makes v2.)
 */

import session from "../../../tests/vectors/v2_pairing_session.json";
import envelopes from "../../../tests/vectors/v2_envelope.json";
import keys from "../../../tests/vectors/v2_keyschedule.json";
import wireVectors from "../../../tests/vectors/v2_wire.json";
import * as p from "../../src/crypto/primitives.js";
import { ContentType, LABEL_V2, bucketSize, open, seal } from "../../src/protocol/envelope.js";
import { epochOf, formatEpoch } from "../../src/protocol/epochs.js";
import { joinParts, splitToken } from "../../src/protocol/parts.js";
import { advance, chainKey0, chainStep, startKey } from "../../src/protocol/v2keys.js";
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
