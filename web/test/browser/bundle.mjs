// Bundle web/test/browser/entry.ts (every vector check) for a browser page:
// `node test/browser/bundle.mjs OUTDIR` writes OUTDIR/vectors.js and OUTDIR/index.html.
// The page loads the script from its own origin only, so it runs under the app's
// Content-Security-Policy (script-src 'self' 'wasm-unsafe-eval').
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, "..", "..", "build-test", "browser"));
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, "entry.ts")],
  outfile: join(out, "vectors.js"),
  bundle: true,
  platform: "browser",
  format: "esm",
  target: "es2022",
  logLevel: "warning",
});
writeFileSync(join(out, "index.html"), `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MedCrypt vectors</title>
<script type="module" src="vectors.js"></script></head>
<body><p id="status">running</p></body></html>
`);
console.log(out);
