#!/usr/bin/env bash
# Build the web companion (web/): `npm ci` when web/package-lock.json changed since the
# last install (or node_modules is missing), then the reproducible build, which prints
# the bundle's SHA-256 and gzipped size (web/build.mjs; ADR 0029).
#   bash scripts/web.sh                  # -> web/dist/
#   bash scripts/web.sh --outdir DIR     # anywhere else (the tests build into a temp dir)
# Needs node (>= 20) and npm; exits 3 with one line when they are missing.
set -euo pipefail
cd "$(dirname "$0")/../web"
for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || { echo "web.sh: $tool is not installed (Node.js >= 20 and npm are needed)" >&2; exit 3; }
done
stamp=node_modules/.medcrypt-lock.sha256
want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # Install scripts off: esbuild's postinstall only re-checks its binary, which npm ci
  # already took from the lock (@esbuild/<platform>).
  npm ci --no-audit --no-fund --ignore-scripts >&2
  echo "$want" > "$stamp"
fi
exec node build.mjs "$@"
