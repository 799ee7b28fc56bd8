"""The README's pytest run at HEAD against an older commit, side by side in one run.

``python -m bench.compare_suite [--base REV] [--head REV] [--rounds N]`` prepares the base commit's
worktree and venv (``bench.worktree``), starts one PostgreSQL server for both sides
(``scripts/postgres.sh``, as the test script does) and then runs each side's own pytest
command, as its ``scripts/test.sh`` gives it, alternately: base, HEAD, base, HEAD...
Only pytest is timed: ruff, mypy, import contracts and the packaging check run outside
it and are not part of the goal (issue 11: "pytest wall time ... at most 55%").

``--same-functions`` runs at HEAD only the test functions whose names passed in the base's
first run: the suite has since grown by the later issues' tests (browser, replicas, key
providers), and this compares the same work before and after the structure change. The
match is by function name alone (as below), so a later test that reuses an old name is
run too: the comparison can only favour the base.

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


def one_run(tree: Path, python: Path, env: dict[str, str], report: Path,
            only: Path | None = None) -> tuple[float, float]:
    """Run the tree's pytest; return (wall seconds, CPU seconds of pytest and children).
    ``only``: a file of node ids, one per line (pytest's ``@file`` arguments)."""
    cmd = [str(python), "-m", "pytest", *pytest_args(tree), f"--junitxml={report}"]
    if only is not None:
        cmd.append(f"@{only}")
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
        names[function_name(case.get("name", ""))] += 1
    return names


def function_name(nodeid_or_name: str) -> str:
    """``tests/x.py::Class::test_f[case]@group`` -> ``test_f``: the key ``passed_names`` uses."""
    return nodeid_or_name.split("[", 1)[0].split("@", 1)[0].rsplit("::", 1)[-1]


def same_functions(tree: Path, python: Path, env: dict[str, str],
                   names: collections.Counter[str], out: Path) -> int:
    """Write the HEAD node ids whose function passed at the base to ``out``; return how
    many."""
    done = subprocess.run([str(python), "-m", "pytest", "--collect-only", "-q",
                           "-p", "no:cacheprovider", "-n", "0"],
                          cwd=tree, env=env, capture_output=True, text=True, check=False)
    ids = [line.strip() for line in done.stdout.splitlines() if "::" in line]
    chosen = [i for i in ids if function_name(i) in names]
    out.write_text("".join(f"{i}\n" for i in chosen))
    return len(chosen)


def start_postgres() -> tuple[str, str]:
    out = run(["bash", "scripts/postgres.sh"], ROOT, who=WHO).split()
    return out[0], out[1]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=WHO)
    parser.add_argument("--base", default="06f4938")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--head", default=None,
                        help="a commit to measure instead of this checkout (its own worktree)")
    parser.add_argument("--same-functions", action="store_true",
                        help="at HEAD, run only the test functions that passed at the base")
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
                    only = None
                    if side == "head" and args.same_functions:
                        only = Path(tmp) / "same-functions.txt"
                        if not only.exists():
                            n = same_functions(tree, python, env, passed["base"], only)
                            print(f"    HEAD: {n} collected cases whose function passed at "
                                  f"the base", flush=True)
                    wall, cpu = one_run(tree, python, env, report, only)
                    times[side].append((wall, cpu))
                    passed.setdefault(side, passed_names(report))
                    print(f"round {i + 1} {side:<4} pytest wall {wall:7.1f} s  "
                          f"CPU {cpu:7.1f} s", flush=True)
    finally:
        run(["bash", "scripts/postgres.sh", "stop", pgdir], ROOT, who=WHO)
    scope = " (HEAD: the base's test functions only)" if args.same_functions else ""
    print(f"\n## pytest of the README's test command{scope}, HEAD vs {args.base}: medians of "
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
