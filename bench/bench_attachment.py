"""Attachment throughput (MB/s) and peak memory for a 200 MB file, padded and unpadded.

Compares the container codec (secretstream in 64 KiB chunks + SHA-256 + file I/O) with
the raw primitive measured in the same run: libsodium secretstream over the same bytes
in memory, no hashing, no files. The padded container (``MCF3``, what writers write,
ADR 0022) is set beside the unpadded one older companions wrote (``MCF2``), at a size on
a bucket boundary (no padding) and one byte above it (the most padding Padme adds
there). Peak memory is measured in a fresh process (ru_maxrss) so nothing from this
process's imports inflates it.

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
from typing import Any

from nacl import bindings as sodium

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 64 * 1024
#: (row label, probe format, bytes above ``--mb`` MiB)
CASES = (("MCF2 unpadded (before)", "mcf2", 0),
         ("MCF3 padded, on a bucket", "mcf3", 0),
         ("MCF3 padded, bucket + 1 B", "mcf3", 1))


def _raw_secretstream_mb_s(total: int) -> float:
    chunk = bytes(CHUNK)
    key = sodium.crypto_secretstream_xchacha20poly1305_keygen()
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    start = time.perf_counter()
    for _ in range(total // CHUNK):
        sodium.crypto_secretstream_xchacha20poly1305_push(state, chunk)
    return total / (time.perf_counter() - start) / 1e6


def _probe(mb: int, fmt: str, extra: int, runs: int, tmp: str) -> dict[str, Any]:
    results = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-m", "tests.companion.big_file_probe", str(mb), tmp, "rss", fmt,
             str(extra)], cwd=ROOT, capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout))
    results.sort(key=lambda r: r["seal_s"] + r["open_s"])
    return results[len(results) // 2]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args, _ = parser.parse_known_args(argv)
    size = args.mb * 1024 * 1024
    with tempfile.TemporaryDirectory() as tmp:
        measured = [(label, _probe(args.mb, fmt, extra, args.runs, tmp))
                    for label, fmt, extra in CASES]
    raw = sorted(_raw_secretstream_mb_s(size) for _ in range(args.runs))[args.runs // 2]
    print(f"\n## attachment container, {args.mb} MiB, median of {args.runs} fresh processes")
    print("MB/s counts file bytes; raw = secretstream push in memory, no hash, no files")
    print(f"{'case':<28} {'container':>11} {'seal MB/s':>10} {'vs raw':>7} "
          f"{'open MB/s':>10} {'vs raw':>7} {'peak RSS':>9}")
    print(f"{'raw secretstream push':<28} {'':>11} {raw:>10.0f} {1:>6.2f}x")
    for label, med in measured:
        seal_mb_s = med["size"] / med["seal_s"] / 1e6
        open_mb_s = med["size"] / med["open_s"] / 1e6
        overhead = med["container_bytes"] / med["size"] - 1
        print(f"{label:<28} {f'+{overhead:.2%}':>11} {seal_mb_s:>10.0f} "
              f"{raw / seal_mb_s:>6.2f}x {open_mb_s:>10.0f} {raw / open_mb_s:>6.2f}x "
              f"{med['maxrss_bytes'] / 2**20:>7.1f}Mi")
    print("peak RSS is the whole process (limit 64 MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
