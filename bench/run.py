"""Run every benchmark (``python -m bench.run``) or those whose name contains an argument."""

from __future__ import annotations

import importlib
import pkgutil
import platform
import sys

import bench


def main(argv: list[str]) -> int:
    wanted = [a for a in argv if not a.startswith("-")]
    print(f"# MedCrypt benchmarks - {platform.python_implementation()} "
          f"{platform.python_version()}, {platform.machine()}, "
          f"{__import__('os').cpu_count()} cores")
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda i: i.name):
        if not info.name.startswith("bench_"):
            continue
        if wanted and not any(w in info.name for w in wanted):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        module.main(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
