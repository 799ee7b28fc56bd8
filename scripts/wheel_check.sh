#!/usr/bin/env bash
# Packaging checks, run by the README's test command outside pytest (issue 11 item 5).
#
# Builds the wheel a clinic would install (python -m build, never editable) from a copy
# of the working tree, then installs it into a fresh virtual environment TOGETHER WITH
# PyPI's `crypto` package and pycryptodome - the two names our old layout clashed with -
# the way a clinic does: its dependencies from the hashed bot lock (requirements/bot.lock,
# `--require-hashes`), then the wheel alone (`--no-deps`). It checks, from a folder
# outside the checkout:
#   * every RECORD path starts with medcrypt/ or the wheel's dist-info folder;
#   * neither the sandbox nor the demo is inside;
#   * the other packages' files are untouched, and `pip check` is clean (the bot lock
#     satisfies every requirement of the wheel);
#   * `medcrypt --help` and `medcrypt-bot doctor --smoke` work, and `medcrypt-bot demo`
#     says in one line that it needs a checkout (exit 2);
#   * the build log has no warning (setuptools' deprecations included), the wheel's
#     metadata carries the SPDX licence and LICENSE, and the sdist carries LICENSE and
#     config.example.toml;
#   * `medcrypt-bot config example` prints exactly the repository's config.example.toml;
#   * the shipped systemd unit passes `systemd-analyze verify` with no output, its
#     ExecStart pointed at this venv (scripts/verify_unit.sh).
# The web bundle (scripts/web.sh) is built into the copy and shipped as package data.
# Then a companion-only install - the wheel without extras, its dependencies from
# requirements/companion.lock - in a second fresh venv: no distribution of the [bot]
# extra is there, `medcrypt` works (help, init, pair offer), `medcrypt-bot` says in one
# line to install the [bot] extra (exit 2), and its size and package count are printed.
# The built wheel is left at $MEDCRYPT_WHEEL_OUT (default: a temporary folder, removed)
# so later packaging checks can share one build.
#   bash scripts/wheel_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
PY=${PYTHON:-.venv/bin/python}
case $PY in */*) PY=$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY") ;; esac  # used after cd
work=$(mktemp -d /tmp/medcrypt-wheel.XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
say() { echo "wheel_check: $*"; }

# A copy of what git would ship (tracked and untracked-but-not-ignored files), so the
# build neither writes build/ into the checkout nor picks up a stale build/ or .venv.
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -cf - -T - | tar -xf - -C "$work/src"
# The web companion rides in the wheel as package data of medcrypt.companion, built here
# by the reproducible build (scripts/web.sh) into the copy, never into the checkout;
# `medcrypt ui` of the companion-only install below must serve exactly this hash.
web_out=$(bash scripts/web.sh --outdir "$work/src/companion/web_bundle") \
  || { say "FAIL: the web bundle did not build"; exit 1; }
web_hash=$(printf '%s\n' "$web_out" | sed -n 's/^web build: bundle sha256 \([0-9a-f]\{64\}\)$/\1/p')
[ -n "$web_hash" ] || { printf '%s\n' "$web_out" >&2; say "FAIL: the web build printed no bundle hash"; exit 1; }
say "web bundle $web_hash built into the wheel's source"
out=${MEDCRYPT_WHEEL_OUT:-$work/dist}
"$PY" -m build --wheel --outdir "$out" "$work/src" >"$work/build.log" 2>&1 \
  || { tail -n 30 "$work/build.log" >&2; say "FAIL: the wheel did not build"; exit 1; }
wheel=$(ls "$out"/medcrypt_bridge-*.whl)
say "built $(basename "$wheel")"
"$PY" -m build --sdist --outdir "$work/sdist" "$work/src" >>"$work/build.log" 2>&1 \
  || { tail -n 30 "$work/build.log" >&2; say "FAIL: the sdist did not build"; exit 1; }
# setuptools prints its deprecations (a table licence, say) as Python warnings framed by
# "!!" and builds on: only the log shows them, so any *Warning or deprecation fails here.
# distutils' "warning: ... byte-compiling is disabled" (PYTHONDONTWRITEBYTECODE) is no
# Python warning and does not.
if grep -nE "[Dd]eprecat|[A-Za-z]+Warning\b|^\s*!!\s*$" "$work/build.log" >&2; then
  say "FAIL: the build printed the warnings above"; exit 1
fi
"$PY" - "$work"/sdist/medcrypt_bridge-*.tar.gz <<'PYSDIST'
import sys, tarfile
with tarfile.open(sys.argv[1]) as tf:
    names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
for needed in ("LICENSE", "bot/config.example.toml"):
    if not any(n == needed or n.endswith("/" + needed) for n in names):
        sys.exit(f"wheel_check: FAIL: {needed} is missing from the sdist")
PYSDIST
say "build log without warnings; the sdist carries LICENSE and config.example.toml"

"$PY" - "$wheel" <<'PYCHECK'
import sys, zipfile
wheel = sys.argv[1]
with zipfile.ZipFile(wheel) as zf:
    names = zf.namelist()
    info = [n for n in names if n.endswith(".dist-info/RECORD")]
    assert len(info) == 1, info
    dist_info = info[0].split("/")[0]
    record = [line.split(",")[0] for line in zf.read(info[0]).decode().splitlines() if line]
bad = [p for p in record if not (p.startswith("medcrypt/") or p.startswith(dist_info + "/"))]
if bad:
    sys.exit(f"wheel_check: FAIL: RECORD paths outside medcrypt/: {bad[:10]}")
shipped = [p for p in record if p.startswith(("medcrypt/sandbox/", "medcrypt/demo/"))]
if shipped:
    sys.exit(f"wheel_check: FAIL: the sandbox or the demo is in the wheel: {shipped[:10]}")
for needed in ("medcrypt/companion/web_bundle/bundle.sha256sums",
               "medcrypt/companion/web_bundle/app/index.html",
               "medcrypt/__init__.py", "medcrypt/crypto/__init__.py",
               "medcrypt/bot/cli/__init__.py", "medcrypt/migrations/alembic.ini",
               "medcrypt/migrations/script.py.mako", "medcrypt/bot/config.example.toml",
               # The compiled catalogs the bot's replies are read from (ADR 0035).
               "medcrypt/bot/locale/en/LC_MESSAGES/medcrypt.mo",
               "medcrypt/bot/locale/es_MX/LC_MESSAGES/medcrypt.mo",
               # The companion's catalogs: its own text domain (ADR 0035, amendment 2).
               "medcrypt/companion/locale/en/LC_MESSAGES/medcrypt-companion.mo",
               "medcrypt/companion/locale/es_MX/LC_MESSAGES/medcrypt-companion.mo",
               f"{dist_info}/licenses/LICENSE"):
    if needed not in record:
        sys.exit(f"wheel_check: FAIL: {needed} is missing from the wheel")
with zipfile.ZipFile(wheel) as zf:
    meta = zf.read(f"{dist_info}/METADATA").decode().splitlines()
for header in ("License-Expression: LicenseRef-Proprietary", "License-File: LICENSE"):
    if header not in meta:
        sys.exit(f"wheel_check: FAIL: METADATA lacks '{header}'")
if any(line.startswith("License:") for line in meta):
    sys.exit("wheel_check: FAIL: METADATA still has the deprecated License: field")
if set(record) != set(names):
    sys.exit("wheel_check: FAIL: RECORD and the archive disagree")
print(f"wheel_check: RECORD has {len(record)} paths, all under medcrypt/ or {dist_info}/;"
      " no sandbox, no demo")
PYCHECK

"$PY" -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check)
# The clashing packages first, ours last: whatever it could overwrite is already there.
"${pip[@]}" crypto pycryptodome >"$work/pip.log" 2>&1 \
  || { tail -n 20 "$work/pip.log" >&2; say "FAIL: could not install crypto, pycryptodome"; exit 1; }
# Digest of every file the clashing packages installed, to prove ours overwrote none.
snapshot() {
  "$work/venv/bin/python" - "$1" <<'PYSNAP'
import hashlib, importlib.metadata as md, sys
with open(sys.argv[1], "w") as out:
    for dist in ("crypto", "pycryptodome"):
        for f in md.distribution(dist).files or []:
            path = f.locate()
            if path.is_file():
                out.write(f"{f} {hashlib.sha256(path.read_bytes()).hexdigest()}\n")
PYSNAP
}
snapshot "$work/before.txt"
"${pip[@]}" --require-hashes -r requirements/bot.lock >>"$work/pip.log" 2>&1 \
  || { tail -n 20 "$work/pip.log" >&2; say "FAIL: requirements/bot.lock did not install"; exit 1; }
"${pip[@]}" --no-deps "$wheel" >>"$work/pip.log" 2>&1 \
  || { tail -n 20 "$work/pip.log" >&2; say "FAIL: the wheel did not install"; exit 1; }
snapshot "$work/after.txt"
cmp -s "$work/before.txt" "$work/after.txt" \
  || { diff "$work/before.txt" "$work/after.txt" | head >&2; say "FAIL: installing medcrypt changed another package's files"; exit 1; }
"$work/venv/bin/python" -m pip check --disable-pip-version-check >/dev/null \
  || { "$work/venv/bin/python" -m pip check >&2; say "FAIL: pip check"; exit 1; }
say "installed from the bot lock beside PyPI's crypto and pycryptodome; their files unchanged; pip check clean"

# Run from an empty folder: nothing may come from the checkout.
mkdir "$work/elsewhere"
cd "$work/elsewhere"
export MEDCRYPT_HOME="$work/elsewhere/home"
unset MEDCRYPT_CONFIG PYTHONPATH
"$work/venv/bin/python" - <<'PYIMPORT'
import pathlib, sys
import Crypto, crypto, medcrypt.crypto
site = pathlib.Path(medcrypt.crypto.__file__).resolve().parents[2]
for mod in (medcrypt.crypto, crypto, Crypto):
    path = pathlib.Path(mod.__file__).resolve()
    if site not in path.parents:
        sys.exit(f"wheel_check: FAIL: {mod.__name__} imported from {path}, not site-packages")
if pathlib.Path(crypto.__file__).resolve().parent == pathlib.Path(medcrypt.crypto.__file__).resolve().parent:
    sys.exit("wheel_check: FAIL: PyPI's crypto and medcrypt.crypto are one folder")
print("wheel_check: medcrypt.crypto, crypto and Crypto import side by side from site-packages")
PYIMPORT
"$work/venv/bin/medcrypt" --help >/dev/null || { say "FAIL: medcrypt --help"; exit 1; }
"$work/venv/bin/medcrypt-bot" --help >/dev/null || { say "FAIL: medcrypt-bot --help"; exit 1; }
"$work/venv/bin/medcrypt-breakglass" --help >/dev/null || { say "FAIL: medcrypt-breakglass --help"; exit 1; }
"$work/venv/bin/medcrypt-bot" doctor --smoke >"$work/smoke.log" 2>&1 \
  || { cat "$work/smoke.log" >&2; say "FAIL: medcrypt-bot doctor --smoke"; exit 1; }
set +e
demo_out=$("$work/venv/bin/medcrypt-bot" demo 2>&1); demo_rc=$?
set -e
if [ "$demo_rc" != 2 ] || [ "$(printf '%s\n' "$demo_out" | wc -l)" != 1 ]; then
  printf '%s\n' "$demo_out" >&2; say "FAIL: medcrypt-bot demo in a wheel install: exit $demo_rc"; exit 1
fi
say "medcrypt --help, medcrypt-bot doctor --smoke: ok; demo: one line, exit 2"
"$work/venv/bin/medcrypt-bot" config example >"$work/example.toml" \
  || { say "FAIL: medcrypt-bot config example"; exit 1; }
cmp -s "$work/example.toml" "$root/config.example.toml" \
  || { say "FAIL: medcrypt-bot config example differs from config.example.toml"; exit 1; }
say "medcrypt-bot config example prints config.example.toml byte for byte"
bash "$root/scripts/verify_unit.sh" "$work/venv"

# A patient's or physician's install: the wheel without extras.
"$PY" -m venv "$work/companion"
cpip=("$work/companion/bin/python" -m pip --disable-pip-version-check)
"${cpip[@]}" install --quiet --require-hashes -r "$root/requirements/companion.lock" \
  >"$work/cpip.log" 2>&1 \
  || { tail -n 20 "$work/cpip.log" >&2; say "FAIL: requirements/companion.lock did not install"; exit 1; }
"${cpip[@]}" install --quiet --no-deps "$wheel" >>"$work/cpip.log" 2>&1 \
  || { tail -n 20 "$work/cpip.log" >&2; say "FAIL: the wheel did not install without extras"; exit 1; }
"${cpip[@]}" check >/dev/null || { "${cpip[@]}" check >&2; say "FAIL: pip check (companion)"; exit 1; }
"$work/companion/bin/python" - <<'PYEXTRA'
import importlib.metadata as md, re, sys
bot = [re.match(r"[A-Za-z0-9._-]+", r)[0] for r in md.requires("medcrypt-bridge") or []
       if re.search(r"""extra\s*==\s*["']bot["']""", r)]
if not bot:
    sys.exit("wheel_check: FAIL: the wheel declares no [bot] extra")
present = []
for name in bot:
    try:
        md.distribution(name)
        present.append(name)
    except md.PackageNotFoundError:
        pass
if present:
    sys.exit(f"wheel_check: FAIL: the companion-only install has bot dependencies: {present}")
# Babel compiles the catalogs in a checkout only; at runtime gettext reads the .mo (ADR 0035).
try:
    md.distribution("babel")
    sys.exit("wheel_check: FAIL: the companion-only install has Babel")
except md.PackageNotFoundError:
    pass
print(f"wheel_check: companion-only install has none of the {len(bot)} [bot] dependencies,"
      " and no Babel")
PYEXTRA
"$work/companion/bin/medcrypt" --help >/dev/null || { say "FAIL: medcrypt --help (companion only)"; exit 1; }
# The companion speaks its user's language from the shipped catalog, without Babel.
es_help=$(LANG=es_MX.UTF-8 "$work/companion/bin/medcrypt" --help) \
  || { say "FAIL: medcrypt --help in Spanish (companion only)"; exit 1; }
printf '%s\n' "$es_help" | grep -qF "cifrado de extremo a extremo" \
  || { printf '%s\n' "$es_help" >&2; say "FAIL: the companion-only install did not answer in Spanish"; exit 1; }
say "companion only: medcrypt --help answers in Spanish under LANG=es_MX.UTF-8 (its shipped .mo, no Babel)"
# A physician offers a pairing as a QR image (segno); a patient reads the photo (Pillow,
# zxing-cpp): every companion dependency is loaded, none of the bot's.
companion() { MEDCRYPT_HOME="$work/elsewhere/$1" "$work/companion/bin/medcrypt" "${@:2}" \
  </dev/null >>"$work/companion.log" 2>&1; }
export MEDCRYPT_PASSPHRASE="wheel check: correct horse battery staple"
{ companion physician init --role physician \
  && companion physician pair offer --no-terminal --png "$work/offer.png" --json \
  && companion patient init --role patient \
  && companion patient pair accept --qr "$work/offer.png" --no-history --json; } \
  || { cat "$work/companion.log" >&2; say "FAIL: medcrypt init / pair offer / pair accept --qr (companion only)"; exit 1; }
unset MEDCRYPT_PASSPHRASE
for argv in "" "--help" "run"; do
  set +e
  # shellcheck disable=SC2086  # each word of argv is one argument
  bot_out=$("$work/companion/bin/medcrypt-bot" $argv 2>&1); bot_rc=$?
  set -e
  if [ "$bot_rc" != 2 ] || [ "$(printf '%s\n' "$bot_out" | wc -l)" != 1 ] \
      || ! printf '%s' "$bot_out" | grep -qF "medcrypt-bridge[bot]"; then
    printf '%s\n' "$bot_out" >&2
    say "FAIL: medcrypt-bot $argv without the [bot] extra: exit $bot_rc, not one line naming the extra"
    exit 1
  fi
done
# `medcrypt ui` of this install serves the packaged bundle, and web-verify (also from this
# install) finds it byte for byte the one built above.
# Its "Open: URL" line is read below: in English whatever this machine's locale.
MEDCRYPT_LANG=en MEDCRYPT_HOME="$work/elsewhere/ui" "$work/companion/bin/medcrypt" ui --no-browser \
  >"$work/ui.log" 2>&1 &
ui_pid=$!
ui_url=""
for _ in $(seq 1 100); do
  ui_url=$(sed -n 's/^Open: \(http:[^ ]*\)app\/$/\1/p' "$work/ui.log")
  [ -n "$ui_url" ] && break
  kill -0 "$ui_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$ui_url" ]; then
  kill "$ui_pid" 2>/dev/null || true
  cat "$work/ui.log" >&2; say "FAIL: medcrypt ui (companion only) printed no address"; exit 1
fi
set +e
verify_out=$("$work/companion/bin/medcrypt" web-verify "$ui_url" --expect "$web_hash" 2>&1); verify_rc=$?
set -e
kill "$ui_pid"; wait "$ui_pid" 2>/dev/null || true
if [ "$verify_rc" != 0 ]; then
  printf '%s\n' "$verify_out" >&2; say "FAIL: medcrypt web-verify of the installed bundle: exit $verify_rc"; exit 1
fi
say "companion only: medcrypt ui serves the packaged web bundle; web-verify: $verify_out"
site=$("$work/companion/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
count=$("${cpip[@]}" list --format=freeze --exclude pip --exclude medcrypt-bridge | wc -l)
say "companion only: medcrypt --help, init, pair offer, pair accept --qr: ok; medcrypt-bot: one line naming [bot], exit 2"
say "companion only: $count packages besides medcrypt-bridge and pip, site-packages $(du -sh "$site" | cut -f1)"
say "passed"
