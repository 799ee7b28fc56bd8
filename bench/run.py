"""Run every benchmark (``python -m bench.run``) or those whose name contains an argument.

``python -m bench.run relay keyring --messages 800``: the names come first, then the
options, which each benchmark reads with ``parse_known_args`` (both ``--flag value`` and
``--flag=value``); a benchmark ignores the options it does not know.
"""

from __future__ import annotations

import importlib
import pkgutil
import platform
import sys

import bench


def main(argv: list[str]) -> int:
    wanted: list[str] = []
    for arg in argv:  # the leading names; an option's value is not a name
        if arg.startswith("-"):
            break
        wanted.append(arg)
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
