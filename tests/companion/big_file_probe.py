"""Subprocess probe: seal and open a large attachment, report time and peak memory.

Run as ``python -m tests.companion.big_file_probe SIZE_MB WORKDIR [rss|trace] [mcf3|mcf2]
[EXTRA_BYTES]``; prints one JSON line. The plaintext is generated on the fly and the
opened plaintext goes to a hashing sink, so the only large objects are the two files on
disk - any growth in peak memory is the codec's fault. ``mcf2`` writes the unpadded
container older companions wrote (tests/support/mcf2_writer.py), so the benchmark can
put the padded writer beside it; ``EXTRA_BYTES`` moves the size off a bucket boundary
(``SIZE_MB`` MiB is one, so 1 extra byte costs the most padding). Used by the slow test
and by bench/bench_attachment.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path

from medcrypt.crypto.endpoint.attachment import open_file, seal_file
from medcrypt.crypto.keyless.wire import Direction
from tests.support.mcf2_writer import write_mcf2

_BLOCK = hashlib.shake_256(b"medcrypt big file").digest(1 << 20)


class PatternReader(io.RawIOBase):
    """``size`` bytes of a repeating 1 MiB pseudo-random block, produced on demand."""

    def __init__(self, size: int) -> None:
        self._left = size
        self._pos = 0
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        out = bytearray()
        while len(out) < n:
            start = self._pos % len(_BLOCK)
            take = min(n - len(out), len(_BLOCK) - start)
            out += _BLOCK[start:start + take]
            self._pos += take
        self._left -= n
        data = bytes(out)
        self.digest.update(data)
        return data


def peak_rss_bytes() -> int:
    """This process's peak resident set size.

    Linux: VmHWM of /proc/self/status, which belongs to the current memory image. Not
    ru_maxrss: that survives execve, so a child forked from a big parent (pytest) would
    report the parent's size.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class HashSink(io.RawIOBase):
    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.digest.update(data)
        self.size += len(data)
        return len(data)


def run(size: int, workdir: Path, *, trace: bool, padded: bool = True) -> dict[str, float]:
    if trace:
        tracemalloc.start()
    container = workdir / "big.mcf"
    src = PatternReader(size)
    start = time.perf_counter()
    with container.open("wb") as dst:
        write = seal_file if padded else write_mcf2
        manifest = write(src, dst, pairing_id=bytes(16), epoch=682,  # type: ignore[operator]
                         direction=Direction.PATIENT_TO_PHYSICIAN, name="scan.dcm",
                         **({"max_size": size} if padded else {}))
    sealed_s = time.perf_counter() - start
    container_bytes = container.stat().st_size
    sink = HashSink()
    start = time.perf_counter()
    with container.open("rb") as fh:
        open_file(fh, sink, manifest, max_size=size)
    opened_s = time.perf_counter() - start
    assert sink.size == size and sink.digest.digest() == src.digest.digest() == manifest.sha256
    traced = tracemalloc.get_traced_memory()[1] if trace else 0
    container.unlink()
    return {
        "size": size, "container_bytes": container_bytes,
        "seal_s": sealed_s, "open_s": opened_s,
        "maxrss_bytes": peak_rss_bytes(),
        "tracemalloc_peak_bytes": traced,
    }


if __name__ == "__main__":
    size_mb, workdir = int(sys.argv[1]), Path(sys.argv[2])
    trace = len(sys.argv) > 3 and sys.argv[3] == "trace"
    padded = len(sys.argv) <= 4 or sys.argv[4] != "mcf2"
    extra = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    print(json.dumps(run(size_mb * 1024 * 1024 + extra, workdir, trace=trace, padded=padded)))
