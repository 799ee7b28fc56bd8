"""Building ``medcrypt-bot``'s parser loads none of the bot's heavy libraries.

``medcrypt-bot --help`` took about 3 s because every subcommand family imported the
bot, the database and both platform clients to register its options. The check runs in
a fresh interpreter (this one has imported everything already) and reads
:data:`sys.modules` after the parser - every family included - is built.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.operator_cli import ROOT

HEAVY = ("sqlalchemy", "telegram", "twilio", "alembic", "uvicorn", "aiohttp", "starlette",
         "apscheduler", "httpx", "psycopg")

PROBE = """
import json, sys
from {module} import build_parser
parser = build_parser()
assert parser.format_help()
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after_parser(module: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE.format(module=module)], cwd=ROOT,
                          capture_output=True, text=True, check=True, timeout=60)
    return {name.split(".")[0] for name in json.loads(done.stdout)}


def test_bot_parser_loads_no_heavy_library() -> None:
    loaded = _modules_after_parser("medcrypt.bot.cli")
    assert sorted(loaded & set(HEAVY)) == []


def test_companion_parser_loads_no_bot_library() -> None:
    loaded = _modules_after_parser("medcrypt.companion.cli")
    assert sorted(loaded & set(HEAVY)) == []


def test_help_of_every_family_still_works() -> None:
    for family in ("doctor", "migrate", "keys", "run", "demo", "audit", "jobs", "escrow",
                   "breakglass"):
        done = subprocess.run([sys.executable, "-m", "medcrypt.bot", family, "--help"],
                              cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, (family, done.stderr)
        assert f"medcrypt-bot {family}" in done.stdout
