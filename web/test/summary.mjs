// `node test/summary.mjs`: every vector check under Node, printed as one JSON line
// ({passed, failed, checks, failures, names}); the browser test compares the page's
// outcome with it, so both environments are held to the same count.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "build-test", "summary.mjs");
await build({
  entryPoints: [join(here, "summary.ts")],
  outfile: out,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  logLevel: "warning",
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
const result = spawnSync(process.execPath, [out], { stdio: "inherit" });
process.exit(result.status ?? 1);
