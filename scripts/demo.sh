#!/usr/bin/env bash
# The README's main-job command: set everything up from nothing and run the bot's
# end-to-end demo on embedded defaults (SQLite, loopback sandbox platforms).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/medcrypt-bot demo "$@"
