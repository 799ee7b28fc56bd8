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
#     says in one line that it needs a checkout (exit 2).
# The built wheel is left at $MEDCRYPT_WHEEL_OUT (default: a temporary folder, removed)
# so later packaging checks can share one build.
#   bash scripts/wheel_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
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
out=${MEDCRYPT_WHEEL_OUT:-$work/dist}
"$PY" -m build --wheel --outdir "$out" "$work/src" >"$work/build.log" 2>&1 \
  || { tail -n 30 "$work/build.log" >&2; say "FAIL: the wheel did not build"; exit 1; }
wheel=$(ls "$out"/medcrypt_bridge-*.whl)
say "built $(basename "$wheel")"

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
for needed in ("medcrypt/__init__.py", "medcrypt/crypto/__init__.py",
               "medcrypt/bot/cli/__init__.py", "medcrypt/migrations/alembic.ini",
               "medcrypt/migrations/script.py.mako"):
    if needed not in record:
        sys.exit(f"wheel_check: FAIL: {needed} is missing from the wheel")
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
"$work/venv/bin/medcrypt-bot" doctor --smoke >"$work/smoke.log" 2>&1 \
  || { cat "$work/smoke.log" >&2; say "FAIL: medcrypt-bot doctor --smoke"; exit 1; }
set +e
demo_out=$("$work/venv/bin/medcrypt-bot" demo 2>&1); demo_rc=$?
set -e
if [ "$demo_rc" != 2 ] || [ "$(printf '%s\n' "$demo_out" | wc -l)" != 1 ]; then
  printf '%s\n' "$demo_out" >&2; say "FAIL: medcrypt-bot demo in a wheel install: exit $demo_rc"; exit 1
fi
say "medcrypt --help, medcrypt-bot doctor --smoke: ok; demo: one line, exit 2"
say "passed"
