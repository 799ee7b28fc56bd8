/** Every vector check, in one list, for the Node runner and the browser page alike. */

import { attachmentVectors } from "./attachments.js";
import { base64Codecs } from "./base64.js";
import { fuzzParsers, offerWhitespace } from "./fuzz.js";
import type { VectorCheck } from "./harness.js";
import { peerVerifierChecks } from "./peer_verifier.js";
import { thirdPartyChecks } from "./third_party.js";
import { v2PairingSessionVectors, v2Vectors } from "./v2.js";
import { pinRecordVectors, v3PairingVectors } from "./v3pairing.js";
import { v3SessionVectors } from "./v3session.js";
import { v3UpgradeVectors } from "./v3upgrade.js";

export const allChecks: VectorCheck[] = [
  ...thirdPartyChecks, peerVerifierChecks, base64Codecs, v3SessionVectors, v3PairingVectors, pinRecordVectors,
  attachmentVectors, v2Vectors, v2PairingSessionVectors,
  v3UpgradeVectors, fuzzParsers, offerWhitespace,
];
