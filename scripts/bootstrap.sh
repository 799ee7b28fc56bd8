#!/usr/bin/env bash
# Create (or refresh) the project's own virtual environment in .venv from the hashed dev
# lock (requirements/dev.lock, ADR 0015). Needs nothing but python3 (3.11+), pip and the
# registry. Re-runs are cheap: nothing is installed while pyproject.toml, the locks and
# this script are unchanged.
#
# `--require-hashes` cannot install the project itself (`-e .` has no hash), so the lock
# goes first - every package of every extra, the build backend and pip itself, each checked
# against its sha256 - and then the project alone, with --no-deps and the locked build backend.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" - <<'PYCHECK'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"MedCrypt bridge needs Python 3.11 or newer, found {sys.version.split()[0]}")
PYCHECK
stamp=.venv/.medcrypt-installed
want=$(cat pyproject.toml requirements/*.lock scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # A changed lock gets a new environment rather than an install over the old one: a
  # package the lock dropped would linger there and could hide a missing pin.
  rm -rf .venv
  "$PY" -m venv .venv
  pip=(.venv/bin/python -m pip --disable-pip-version-check)
  "${pip[@]}" install --quiet --require-hashes -r requirements/dev.lock
  "${pip[@]}" install --quiet --no-deps --no-build-isolation -e .
  # The dev lock holds every extra (scripts/locks.py): the bot's, PostgreSQL's, dev's. A
  # lock that lost the `bot` extra would leave a venv whose medcrypt-bot only asks for it.
  .venv/bin/python - <<'PYEXTRA'
import sys
from medcrypt.bot.cli.install_check import EXTRA, missing_bot_dependencies
missing = missing_bot_dependencies()
if missing:
    sys.exit(f"bootstrap: requirements/dev.lock lacks the [{EXTRA}] extra's {', '.join(missing)}")
PYEXTRA
  echo "$want" > "$stamp"
fi
