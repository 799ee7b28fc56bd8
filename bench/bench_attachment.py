"""Attachment throughput (MB/s) and peak memory for a 200 MB file.

Compares the container codec (secretstream in 64 KiB chunks + SHA-256 + file I/O) with
the raw primitive measured in the same run: libsodium secretstream over the same bytes
in memory, no hashing, no files. Peak memory is measured in a fresh process (ru_maxrss)
so nothing from this process's imports inflates it.

    python -m bench.run attachment            # 200 MB
    python -m bench.bench_attachment --mb 50  # smaller
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nacl import bindings as sodium

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 64 * 1024


def _raw_secretstream_mb_s(total: int) -> float:
    chunk = bytes(CHUNK)
    key = sodium.crypto_secretstream_xchacha20poly1305_keygen()
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    start = time.perf_counter()
    for _ in range(total // CHUNK):
        sodium.crypto_secretstream_xchacha20poly1305_push(state, chunk)
    return total / (time.perf_counter() - start) / 1e6


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args, _ = parser.parse_known_args(argv)
    size = args.mb * 1024 * 1024
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            out = subprocess.run(
                [sys.executable, "-m", "tests.companion.big_file_probe", str(args.mb), tmp],
                cwd=ROOT, capture_output=True, text=True, check=True)
            results.append(json.loads(out.stdout))
    results.sort(key=lambda r: r["seal_s"] + r["open_s"])
    med = results[len(results) // 2]
    raw = sorted(_raw_secretstream_mb_s(size) for _ in range(args.runs))[args.runs // 2]
    seal_mb_s = size / med["seal_s"] / 1e6
    open_mb_s = size / med["open_s"] / 1e6
    print(f"\n## attachment container, {args.mb} MiB, median of {args.runs} fresh processes")
    print(f"{'case':<44} {'MB/s':>10} {'time vs raw':>12}")
    for name, mb_s in (("raw secretstream push (in memory, no hash)", raw),
                       ("seal_file (file -> file, + SHA-256)", seal_mb_s),
                       ("open_file (file -> sink, + SHA-256)", open_mb_s)):
        print(f"{name:<44} {mb_s:>10.0f} {raw / mb_s:>11.2f}x")
    print(f"peak RSS of the whole process: {med['maxrss_bytes'] / 2**20:.1f} MiB (limit 64 MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
