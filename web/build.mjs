// The web companion's reproducible build (`npm run build`): esbuild bundles the app and its
// service worker, names every asset by its content, writes web/dist/ (or --outdir DIR) and
// prints the bundle's SHA-256 and its gzipped size.
//
// What the bundle hash covers (ADR 0029, docs/DELIVERY.md "The web bundle"):
//   bundle.sha256sums lists every other file of dist/ as `<sha256 hex>  <path>\n`, sorted
//   by path (bytes of UTF-8), in `sha256sum` format. The bundle hash is the SHA-256 of that
//   file. app/index.html shows the hash to the user (a <meta> the app reads), and a file
//   cannot hold its own hash, so app/index.html is listed with the hash of its CANONICAL
//   form: the one occurrence of the bundle hash replaced by 64 "0" characters (what this
//   build writes before it knows the hash). Every other file is listed as served.
//   `medcrypt web-verify` and the service worker's install check apply the same rule.
//
// Reproducible: no timestamps, no absolute paths, sorted inputs; esbuild is deterministic
// for one version and one input tree. tests/web/shell/test_build.py builds twice and
// compares every byte.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const HERE = dirname(fileURLToPath(import.meta.url));
const PLACEHOLDER = "0".repeat(64);
const SUMS = "bundle.sha256sums";
// The ceiling, "the gzipped bundle <= 400 KB, libraries included": every file of
// dist/, gzipped one by one at level 9 (as a static host serves them), summed, in KB of
// 1000 bytes. Over it the build fails (exit 1), so no commit can grow past it unnoticed.
export const LIMIT_GZIP = 400 * 1000;

function argValue(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");
const short = (bytes) => sha256(bytes).slice(0, 16);

/** esbuild options both bundles share: the same input gives the same bytes. */
const common = {
  bundle: true,
  write: false,
  minify: true,
  target: "es2022",
  platform: "browser",
  legalComments: "eof", // libsodium (ISC) and jsQR (Apache-2.0) keep their notices
  charset: "utf8",
  absWorkingDir: HERE,
  logLevel: "warning",
};

async function bundleOne(entry, options) {
  const result = await esbuild.build({ ...common, entryPoints: [entry], ...options });
  if (result.outputFiles.length !== 1) {
    throw new Error(`${entry}: expected one output file, got ${result.outputFiles.length}`);
  }
  return result.outputFiles[0].contents;
}

/**
 * The app: an ES module entry and the chunks it imports on demand, named by their content.
 * Code split off behind a dynamic `import()` (the BIP-39 word lists only the setup screen
 * needs, ADR 0042) is precached like the rest but not fetched at start;
 * `startup` lists the files an open loads (the entry and its static imports).
 */
const APP_ENTRY = "src/app/main.ts";

async function buildApp() {
  const result = await esbuild.build({
    ...common,
    entryPoints: [APP_ENTRY],
    format: "esm",
    splitting: true,
    outdir: join(HERE, "app-out"),
    entryNames: "main-[hash]",
    chunkNames: "chunk-[hash]",
    metafile: true,
  });
  // esbuild's own [hash] depends on where the tree sits (paths into node_modules), so
  // every file is renamed by the SHA-256 of its bytes, dependencies first, with the
  // references to the renamed files rewritten: the same sources give the same names.
  const base = (path) => path.split(/[\\/]/).pop();
  const contents = Object.fromEntries(result.outputFiles.map((o) => [base(o.path), o.contents]));
  const meta = Object.fromEntries(Object.entries(result.metafile.outputs)
    .map(([path, m]) => [base(path), m]));
  const named = {};
  const nameOf = (file) => {
    if (named[file]) return named[file];
    let text = Buffer.from(contents[file]).toString("utf8");
    for (const imp of meta[file].imports) {
      const dep = base(imp.path);
      text = text.replaceAll(dep, nameOf(dep));
    }
    contents[file] = Buffer.from(text, "utf8");
    named[file] = `${meta[file].entryPoint === APP_ENTRY ? "main" : "chunk"}-${short(contents[file])}.js`;
    return named[file];
  };
  Object.keys(meta).forEach(nameOf);
  const files = Object.fromEntries(Object.keys(meta).map((f) => [`app/${named[f]}`, contents[f]]));
  // A dynamically imported module is an entry point to esbuild too: pick the app's.
  const entry = Object.keys(meta).find((f) => meta[f].entryPoint === APP_ENTRY);
  const mainPath = `app/${named[entry]}`;
  const startup = new Set([mainPath]);
  const walk = (file) => {
    for (const imp of meta[file].imports) {
      if (imp.kind === "import-statement" && !startup.has(`app/${named[base(imp.path)]}`)) {
        startup.add(`app/${named[base(imp.path)]}`);
        walk(base(imp.path));
      }
    }
  };
  walk(entry);
  return { files, mainPath, startup };
}

function staticAsset(name, ext) {
  const bytes = readFileSync(join(HERE, "static", name));
  return [`app/${name.replace(/\.[^.]+$/, "")}-${short(bytes)}${ext}`, bytes];
}

function renderTemplate(name, vars) {
  let text = readFileSync(join(HERE, "static", name), "utf8");
  for (const [key, value] of Object.entries(vars)) {
    const marker = `{{${key}}}`;
    if (!text.includes(marker)) throw new Error(`${name}: no ${marker}`);
    text = text.replaceAll(marker, value);
  }
  if (/\{\{[A-Z_]+\}\}/.test(text)) throw new Error(`${name}: a marker was left unfilled`);
  return Buffer.from(text, "utf8");
}

export function sumsText(files) {
  return Object.keys(files)
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((path) => `${files[path]}  ${path}\n`)
    .join("");
}

export async function build(outdir) {
  const app = await buildApp();
  const files = { ...app.files };
  const mainPath = app.mainPath;
  const [iconPath, icon] = staticAsset("icon.svg", ".svg");
  files[iconPath] = icon;
  const manifest = renderTemplate("manifest.webmanifest", { ICON: iconPath.slice(4) });
  const manifestPath = `app/manifest-${short(manifest)}.webmanifest`;
  files[manifestPath] = manifest;
  // app/index.html with the placeholder: its canonical form.
  const canonicalIndex = renderTemplate("app.html", {
    MAIN: mainPath.slice(4),
    MANIFEST: manifestPath.slice(4),
    ICON: iconPath.slice(4),
    BUNDLE_SHA256: PLACEHOLDER,
  });
  files["app/index.html"] = canonicalIndex;
  files["index.html"] = renderTemplate("entry.html", { ICON: iconPath.slice(4) });
  // The worker precaches everything under app/ (its scope) and checks each file's hash.
  const precache = Object.keys(files)
    .filter((p) => p.startsWith("app/"))
    .sort()
    .map((p) => ({ path: p.slice(4) === "index.html" ? "./" : p.slice(4), sha256: sha256(files[p]) }));
  const precacheId = sha256(JSON.stringify(precache)).slice(0, 32);
  files["app/sw.js"] = await bundleOne("src/app/sw/worker.ts", {
    format: "iife",
    define: {
      __MEDCRYPT_PRECACHE__: JSON.stringify(precache),
      __MEDCRYPT_PRECACHE_ID__: JSON.stringify(precacheId),
    },
  });
  const sums = sumsText(Object.fromEntries(Object.entries(files).map(([p, b]) => [p, sha256(b)])));
  const bundleHash = sha256(Buffer.from(sums, "utf8"));
  const index = Buffer.from(canonicalIndex.toString("utf8").replace(PLACEHOLDER, bundleHash), "utf8");
  if (index.toString("utf8").split(bundleHash).length !== 2) {
    throw new Error("app/index.html must hold the bundle hash exactly once");
  }
  files["app/index.html"] = index;
  files[SUMS] = Buffer.from(sums, "utf8");

  rmSync(outdir, { recursive: true, force: true });
  for (const [path, bytes] of Object.entries(files)) {
    mkdirSync(dirname(join(outdir, path)), { recursive: true });
    writeFileSync(join(outdir, path), bytes);
  }
  // What every open fetches: the pages, the worker, the manifest and icon, the entry and
  // its static imports; the on-demand chunks are the rest.
  const onDemand = Object.keys(app.files).filter((p) => !app.startup.has(p));
  let gzipTotal = 0;
  let gzipOnDemand = 0;
  for (const [path, bytes] of Object.entries(files)) {
    const size = gzipSync(bytes, { level: 9 }).length;
    gzipTotal += size;
    if (onDemand.includes(path)) gzipOnDemand += size;
  }
  return {
    bundleHash, files: Object.keys(files).sort(), gzipTotal, gzipStartup: gzipTotal - gzipOnDemand,
    gzipOnDemand, onDemand: onDemand.sort(), mainPath,
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outdir = resolve(argValue("--outdir", join(HERE, "dist")));
  const result = await build(outdir);
  console.log(`web build: ${result.files.length} files in ${outdir}`);
  const kb = (n) => (n / 1000).toFixed(1);
  console.log(`web build: gzipped ${kb(result.gzipTotal)} KB in all (limit ${LIMIT_GZIP / 1000} KB, `
    + `libraries included): ${kb(result.gzipStartup)} KB loaded at every open, `
    + `${kb(result.gzipOnDemand)} KB on demand (${result.onDemand.join(", ") || "none"})`);
  console.log(`web build: bundle sha256 ${result.bundleHash}`);
  if (result.gzipTotal > LIMIT_GZIP) {
    console.error(`web build: the bundle is ${result.gzipTotal} bytes gzipped, over the ${LIMIT_GZIP}-byte `
      + "ceiling (issue 14; docs/adr/0042)");
    process.exit(1);
  }
}
