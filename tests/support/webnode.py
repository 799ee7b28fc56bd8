"""The web companion's Node toolchain for tests: where web/ is, and its locked packages.

``npm ci`` installs the exact packages of web/package-lock.json when ``node_modules`` is
missing (the npm registry is the only network it uses). Node.js and npm must be
installed; a missing one fails the test with a message that says so.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "web"


def node() -> str:
    found = shutil.which("node")
    assert found is not None, "Node.js is needed for the web companion's tests"
    return found


def npm() -> str:
    found = shutil.which("npm")
    assert found is not None, "npm is needed for the web companion's tests"
    return found


def ensure_node_modules() -> None:
    """``npm ci`` from the committed lock if the packages are not installed yet."""
    if not (WEB / "node_modules" / "libsodium-wrappers-sumo").is_dir():
        subprocess.run([npm(), "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True,
                       timeout=600)
