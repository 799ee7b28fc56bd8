// `npm test`: bundle every web/test/unit/*.test.ts with esbuild into web/build-test/
// and run them with `node --test`. Bundling (not ts-node) because the same esbuild
// turns the vector checks into the browser page's bundle, so Node and Chromium run the
// same code; JSON vector files are bundled in, so no check reads the file system.
// --expose-gc lets the memory test measure live memory rather than uncollected garbage.
import { spawnSync } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "build-test");
const unit = join(here, "unit");
const only = process.argv.slice(2);
const entries = readdirSync(unit)
  .filter((f) => f.endsWith(".test.ts"))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .map((f) => join(unit, f));

rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: entries,
  outdir: out,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "inline",
  logLevel: "warning",
  // libsodium's CommonJS build pulls in node builtins lazily; keep them external.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});

const files = readdirSync(out).filter((f) => f.endsWith(".mjs")).map((f) => join(out, f));
const result = spawnSync(process.execPath, ["--expose-gc", "--test", "--test-concurrency=1", ...files], {
  stdio: "inherit",
});
process.exit(result.status ?? 1);
