"""The README's pytest run at HEAD against an older commit, side by side in one run.

``python -m bench.compare_suite [--base REV] [--head REV] [--rounds N]`` prepares the base commit's
worktree and venv (``bench.worktree``), starts one PostgreSQL server for both sides
(``scripts/postgres.sh``, as the test script does) and then runs each side's own pytest
command, as its ``scripts/test.sh`` gives it, alternately: base, HEAD, base, HEAD...
Only pytest is timed: ruff, mypy, import contracts and the packaging check run outside
it and are not part of the goal (issue 11: "pytest wall time ... at most 55%").

For every run it prints the wall time, the CPU time of pytest and its workers, and the
load average at the start; then the medians and HEAD/base. Each run writes a JUnit XML
report, and the script compares the test functions that passed on either side by name
(files moved between the two layouts, so the module path is not part of the key): every
name that passed at the base and not at HEAD is listed, so a lost test cannot hide.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from bench.worktree import ROOT, prepare_base, run

WHO = "compare_suite"
PYTEST_LINE = re.compile(r"^\s*python -m pytest (.*?)\"\$@\"\s*$", re.MULTILINE)


def pytest_args(tree: Path) -> list[str]:
    """The pytest arguments the tree's own test script uses (serial before, -n 2 after)."""
    match = PYTEST_LINE.search((tree / "scripts" / "test.sh").read_text())
    if match is None:
        sys.exit(f"{WHO}: no pytest line in {tree}/scripts/test.sh")
    return match.group(1).split()


def one_run(tree: Path, python: Path, env: dict[str, str], report: Path) -> tuple[float, float]:
    """Run the tree's pytest; return (wall seconds, CPU seconds of pytest and children)."""
    cmd = [str(python), "-m", "pytest", *pytest_args(tree), f"--junitxml={report}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "(no output)"
    print(f"    {tail}", flush=True)
    if done.returncode != 0:
        # Still timed and compared: the report lists what failed by name below.
        print(f"    pytest exited {done.returncode} in {tree}", flush=True)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def passed_names(report: Path) -> collections.Counter[str]:
    """How many cases of each test function passed in a JUnit report.

    The key is the function's name alone: pytest-xdist appends ``@group`` to the tests of
    an ``xdist_group``, and generated parameter ids (``name8-expected8``) depend on how
    the values are written, neither of which says anything about the test. A function
    that lost a parametrised case still shows up, by its count.
    """
    names: collections.Counter[str] = collections.Counter()
    for case in ET.parse(report).iter("testcase"):
        if any(child.tag in {"failure", "error", "skipped"} for child in case):
            continue  # not passed: shows up in the "passed at the base, not at HEAD" list
        name = case.get("name", "").split("@", 1)[0].split("[", 1)[0]
        names[name] += 1
    return names


def start_postgres() -> tuple[str, str]:
    out = run(["bash", "scripts/postgres.sh"], ROOT, who=WHO).split()
    return out[0], out[1]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=WHO)
    parser.add_argument("--base", default="06f4938")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--head", default=None,
                        help="a commit to measure instead of this checkout (its own worktree)")
    args = parser.parse_args(argv)
    base_tree, base_py = prepare_base(args.base, who=WHO)
    head_tree, head_py = (prepare_base(args.head, who=WHO) if args.head
                          else (ROOT, Path(sys.executable)))
    sides = (("base", base_tree, base_py), ("head", head_tree, head_py))
    url, pgdir = start_postgres()
    env = dict(os.environ, MEDCRYPT_TEST_PG_URL=url, MEDCRYPT_REQUIRE_PG="1",
               MEDCRYPT_FAULT_MESSAGES="5000")
    times: dict[str, list[tuple[float, float]]] = {"base": [], "head": []}
    passed: dict[str, collections.Counter[str]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="medcrypt-suite-") as tmp:
            for i in range(args.rounds):
                for side, tree, python in sides:
                    load = os.getloadavg()[0]
                    print(f"round {i + 1} {side:<4} load {load:4.2f} ...", flush=True)
                    report = Path(tmp) / f"{side}-{i}.xml"
                    wall, cpu = one_run(tree, python, env, report)
                    times[side].append((wall, cpu))
                    passed.setdefault(side, passed_names(report))
                    print(f"round {i + 1} {side:<4} pytest wall {wall:7.1f} s  "
                          f"CPU {cpu:7.1f} s", flush=True)
    finally:
        run(["bash", "scripts/postgres.sh", "stop", pgdir], ROOT, who=WHO)
    print(f"\n## pytest of the README's test command, HEAD vs {args.base}: medians of "
          f"{args.rounds} alternating runs, PostgreSQL and SQLite, 5,000-message crash test")
    b_wall = statistics.median(w for w, _ in times["base"])
    h_wall = statistics.median(w for w, _ in times["head"])
    b_cpu = statistics.median(c for _, c in times["base"])
    h_cpu = statistics.median(c for _, c in times["head"])
    print(f"{'':<10} {'base':>9} {'HEAD':>9} {'HEAD/base':>10}")
    print(f"{'wall s':<10} {b_wall:>9.1f} {h_wall:>9.1f} {h_wall / b_wall:>9.0%}   (goal <= 55%)")
    print(f"{'CPU s':<10} {b_cpu:>9.1f} {h_cpu:>9.1f} {h_cpu / b_cpu:>9.0%}")
    lost = passed["base"] - passed["head"]
    gained = passed["head"] - passed["base"]
    print(f"\npassed test functions: base {sum(passed['base'].values())}, "
          f"HEAD {sum(passed['head'].values())}")
    print(f"passed at the base, not at HEAD ({sum(lost.values())}):")
    for name, count in sorted(lost.items()):
        print(f"  {name}" + (f"  x{count}" if count > 1 else ""))
    print(f"passed at HEAD only: {sum(gained.values())} (new tests)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
