#!/usr/bin/env bash
# Check the shipped systemd unit the way systemd reads it (issue 15, "Deployment files").
#   bash scripts/verify_unit.sh VENV [UNIT]
# Copies UNIT (default deploy/medcrypt-bot.service) with its ExecStart moved from the
# documented /opt/medcrypt/venv to VENV - an environment the built wheel was installed
# into (scripts/wheel_check.sh passes its smoke-test venv) - and runs
# `systemd-analyze verify` on the copy. ANY output fails: systemd only warns about a
# misspelled directive ("Unknown key ... ignoring") and still exits 0, so the exit status
# alone would pass a unit that silently lost a hardening option.
# Installs Debian's systemd package when systemd-analyze is missing (needs root, as on CI).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:?usage: verify_unit.sh VENV [UNIT]}
unit=${2:-deploy/medcrypt-bot.service}
documented=/opt/medcrypt/venv
say() { echo "verify_unit: $*"; }

if ! command -v systemd-analyze >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    say "FAIL: systemd-analyze is missing and not root to install Debian's systemd package"; exit 1
  fi
  say "installing Debian's systemd package for systemd-analyze" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends systemd >&2
fi
[ -x "$venv/bin/medcrypt-bot" ] || { say "FAIL: $venv/bin/medcrypt-bot is not an executable"; exit 1; }
grep -qx "ExecStart=$documented/bin/medcrypt-bot .*" "$unit" \
  || { say "FAIL: $unit: ExecStart does not start $documented/bin/medcrypt-bot (the documented venv)"; exit 1; }

work=$(mktemp -d /tmp/medcrypt-unit.XXXXXX)
trap 'rm -rf "$work"' EXIT
venv_abs=$(cd "$venv" && pwd)
# Same file name: systemd derives the unit's name (and so its type) from it.
sed "s#^ExecStart=$documented/#ExecStart=$venv_abs/#" "$unit" > "$work/$(basename "$unit")"
# --man=no: the host's man pages are not what is tested; every other check stays on.
out=$(systemd-analyze verify --man=no "$work/$(basename "$unit")" 2>&1) || {
  printf '%s\n' "$out" >&2; say "FAIL: systemd-analyze verify $unit exited non-zero"; exit 1; }
if [ -n "$out" ]; then
  printf '%s\n' "$out" >&2; say "FAIL: systemd-analyze verify $unit printed the lines above"; exit 1
fi
say "$unit passes systemd-analyze verify with no output (ExecStart in $venv_abs)"
