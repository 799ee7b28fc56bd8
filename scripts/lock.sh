#!/usr/bin/env bash
# Refresh the hashed locks in requirements/ from pyproject.toml (ADR 0015):
#   bash scripts/lock.sh             # keep each pin unless pyproject.toml's ranges move it
#   bash scripts/lock.sh --upgrade   # move every pin to the newest release the ranges allow
# uv compiles one universal lock per install set (dev first; bot and companion are held
# to the dev versions), with the hashes of every platform's files; it is the uv that the
# dev lock pins. Commit requirements/ afterwards. After a merge conflict in
# requirements/, take either side and run this: the locks are output, never hand-edited.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! .venv/bin/python -c 'import packaging, uv' 2>/dev/null; then
  bash scripts/bootstrap.sh
fi
exec .venv/bin/python scripts/locks.py compile "$@"
