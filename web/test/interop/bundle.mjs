// `node test/interop/bundle.mjs OUTFILE`: the interop driver as one Node ESM file.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, "..", "..", "build-test", "interop-driver.mjs"));
await build({
  entryPoints: [join(here, "driver.ts")], outfile: out, bundle: true, platform: "node",
  format: "esm", target: "node20", logLevel: "warning",
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
console.log(out);
