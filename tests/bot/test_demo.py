"""The README's main job runs start to finish and proves no plaintext reached the server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_runs_and_reports_no_plaintext(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "medcrypt.bot", "demo"], cwd=tmp_path, capture_output=True,
        text=True, timeout=180, check=False,
        env={"PATH": str(Path(sys.executable).parent)})
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "companion opens: 'Your HbA1c is 6.1%" in out
    assert "identical to the original" in out
    assert "Not sent: this chat only carries encrypted messages" in out
    assert out.count("no plaintext") == 3
    assert "LEAK" not in out
