#!/usr/bin/env bash
# Print the path of Debian's chromium for the browser tests (tests/web/), installing the
# package when it is missing and this runs as root (as on CI), like scripts/postgres.sh
# does for PostgreSQL. Playwright for Python drives it through `executable_path`: no
# browser is ever downloaded (`playwright install` is never run; ADR 0029).
# Exit 3 with one line on stderr when there is no chromium and no root to install it.
#   bash scripts/chromium.sh        # -> /usr/bin/chromium
set -euo pipefail
find_chromium() {
  for c in "${MEDCRYPT_CHROMIUM:-}" /usr/bin/chromium /usr/lib/chromium/chromium; do
    if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; return 0; fi
  done
  return 1
}
if path=$(find_chromium); then echo "$path"; exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "chromium.sh: Debian's chromium is not installed and not root to install it (apt-get install chromium)" >&2
  exit 3
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium.sh: no chromium and no apt-get to install Debian's package" >&2
  exit 3
fi
echo "chromium.sh: installing Debian's chromium package" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
path=$(find_chromium) || { echo "chromium.sh: apt-get ran but no chromium binary was found" >&2; exit 3; }
echo "$path"
