"""The web companion's unit tests and vector checks (``npm test`` in web/) run under pytest.

Why through pytest: the README's one test command must cover the TypeScript protocol too,
against the same tests/vectors files the Python companion reads. ``npm ci`` installs
the exact locked packages when ``node_modules`` is missing (no network beyond npm).
"""

from __future__ import annotations

import re
import subprocess

from tests.support.webnode import WEB, ensure_node_modules, npm


def test_npm_test_passes_every_check() -> None:
    ensure_node_modules()
    done = subprocess.run([npm(), "test"], cwd=WEB, capture_output=True, text=True, timeout=600,
                          check=False)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-4000:]
    passed = re.search(r"^# pass (\d+)$", report, re.MULTILINE)
    failed = re.search(r"^# fail (\d+)$", report, re.MULTILINE)
    assert passed is not None and failed is not None, report[-4000:]
    assert int(failed.group(1)) == 0
    assert int(passed.group(1)) >= 12  # one node:test per vector check function
