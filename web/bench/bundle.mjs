// `node bench/bundle.mjs OUTDIR`: OUTDIR/bench-node.mjs and OUTDIR/bench-browser.js, and
// the step profile's OUTDIR/profile-node.mjs and OUTDIR/profile-browser.js
// (release build settings: minified, as the app bundle will be).
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, "..", "build-test", "bench"));
mkdirSync(out, { recursive: true });
for (const [entry, name] of [["node.ts", "bench-node.mjs"], ["profile-node.ts", "profile-node.mjs"]]) {
  await build({
    entryPoints: [join(here, entry)], outfile: join(out, name), bundle: true,
    platform: "node", format: "esm", target: "node20", minify: true, logLevel: "warning",
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
}
for (const [entry, name] of [["browser.ts", "bench-browser.js"], ["profile-browser.ts", "profile-browser.js"]]) {
  await build({
    entryPoints: [join(here, entry)], outfile: join(out, name), bundle: true,
    platform: "browser", format: "esm", target: "es2022", minify: true, logLevel: "warning",
  });
}
console.log(out);
