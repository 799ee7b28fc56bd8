"""Tiny benchmark harness: medians, and ratios against a baseline measured in the same run.

Timings are never asserted anywhere (a loaded CI machine would make them flaky); they
are printed for issue notes and for humans. Each ``bench/bench_*.py`` exposes
``main(args)``; ``python -m bench.run`` runs them all, ``python -m bench.run keyring``
one of them.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measurement:
    name: str
    median_s: float
    per_op_count: int

    @property
    def per_op_us(self) -> float:
        return self.median_s / self.per_op_count * 1e6


def measure(
    name: str, fn: Callable[[], object], *, number: int = 1000, repeat: int = 7
) -> Measurement:
    """Median over ``repeat`` rounds of ``number`` calls (GC off while timing)."""
    fn()  # warm up caches and lazy imports
    samples = []
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return Measurement(name, statistics.median(samples), number)


def report(title: str, rows: list[Measurement], baseline: Measurement | None = None) -> None:
    print(f"\n## {title}")
    print(f"{'case':<48} {'median/op':>12} {'ops/s':>12} {'ratio':>8}")
    for m in rows:
        ratio = f"{m.per_op_us / baseline.per_op_us:7.2f}x" if baseline else ""
        ops = 1e6 / m.per_op_us if m.per_op_us else float("inf")
        print(f"{m.name:<48} {m.per_op_us:>10.2f}us {ops:>12,.0f} {ratio:>8}")


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, printed with a figure: on a shared machine
    they say how much to trust it."""
    try:
        return " ".join(Path("/proc/loadavg").read_text(encoding="ascii").split()[:3])
    except OSError:
        return "n/a"
