"""A 200 MB attachment round-trips with peak memory under 64 MB (measured in a fresh process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 64 * 1024 * 1024


@pytest.mark.slow
def test_200_mb_round_trip_peak_memory_under_64_mb(tmp_path: Path) -> None:
    for mode in ("rss", "trace"):
        out = subprocess.run(
            [sys.executable, "-m", "tests.companion.big_file_probe", "200", str(tmp_path),
             mode], cwd=ROOT, capture_output=True, text=True, timeout=600, check=True)
        result = json.loads(out.stdout)
        assert result["size"] == 200 * 1024 * 1024
        # The whole process - interpreter, PyNaCl, cryptography - stays under the limit.
        assert result["maxrss_bytes"] < LIMIT, result
        if mode == "trace":
            # Python-level allocations stay around a few chunks, independent of file size.
            assert result["tracemalloc_peak_bytes"] < 4 * 1024 * 1024, result
