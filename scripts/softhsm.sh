#!/usr/bin/env bash
# A throw-away SoftHSM2 token for the PKCS#11 key provider's tests (ADR 0033).
#   eval "$(bash scripts/softhsm.sh)"        # start: prints the variables the tests read
#   bash scripts/softhsm.sh stop DIR         # remove the token directory again
# Installs Debian's softhsm2 package when the module is missing (needs root, as on CI).
# The token lives in a fresh temporary directory with its own softhsm2.conf, so the
# machine's own tokens (if any) are never touched; the PINs are random per run.
set -euo pipefail
if [ "${1:-}" = "stop" ]; then
  dir=${2:?usage: softhsm.sh stop DIR}
  case "$dir" in /tmp/medcrypt-hsm.*) rm -rf "$dir" ;; *) echo "softhsm.sh: refusing to remove $dir" >&2; exit 2 ;; esac
  exit 0
fi
find_module() {
  for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/*/softhsm/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
    [ -f "$m" ] && { echo "$m"; return 0; }
  done
  return 1
}
module=$(find_module || true)
if [ -z "$module" ] || ! command -v softhsm2-util >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "softhsm.sh: SoftHSM2 is not installed and not root to install it" >&2
    exit 3
  fi
  echo "softhsm.sh: installing Debian's softhsm2 package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq softhsm2 >&2
  module=$(find_module)
fi
dir=$(mktemp -d /tmp/medcrypt-hsm.XXXXXX)
mkdir "$dir/tokens"
cat > "$dir/softhsm2.conf" <<CONF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
pin=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
so_pin=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
label=medcrypt-test
SOFTHSM2_CONF="$dir/softhsm2.conf" softhsm2-util --init-token --free --label "$label" \
  --so-pin "$so_pin" --pin "$pin" >/dev/null
echo "export SOFTHSM2_CONF=$dir/softhsm2.conf"
echo "export MEDCRYPT_TEST_PKCS11_MODULE=$module"
echo "export MEDCRYPT_TEST_PKCS11_TOKEN=$label"
echo "export MEDCRYPT_TEST_PKCS11_PIN=$pin"
echo "export MEDCRYPT_TEST_HSM_DIR=$dir"
