/** Every vector check, in one list, for the Node runner and the browser page alike. */

import type { VectorCheck } from "./harness.js";
import { thirdPartyChecks } from "./third_party.js";

export const allChecks: VectorCheck[] = [...thirdPartyChecks];
