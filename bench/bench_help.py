"""``medcrypt-bot --help`` as a whole process (budget: median 500 ms).

The first thing an operator runs, and what shell completion and ``--version`` pay for
too: it used to import the bot, SQLAlchemy, PTB, twilio and alembic just to build the
parser (3 s on the reporter's machine). Measured 2026-12-02 on the 2-core test machine
(load average about 2.5), median of 15: ``python -c pass`` 21 ms; ``medcrypt-bot --help``
1468 ms before (ad63595), 143 ms after; ``medcrypt --help`` 108 -> 120 ms (noise).
Measured in the same run,
interleaved round by round so load changes hit every row alike: ``python -c pass``
(the interpreter's own start, the floor), ``medcrypt-bot --version`` and ``medcrypt
--help``. ``--tree DIR`` measures another checkout with this interpreter (its
``medcrypt`` package first on ``PYTHONPATH``), for the before/after figures.

    python -m bench.run help
    python -m bench.bench_help --runs 21 --tree /path/to/old/checkout
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import load_average

BUDGET_MS = 500
ROOT = Path(__file__).resolve().parents[1]


def _time(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=env, cwd=cwd, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{argv[2:]} failed: {done.stderr.decode(errors='replace').strip()}")
    return elapsed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--tree", type=Path, default=ROOT,
                        help="checkout to measure (default: this one)")
    args, _ = parser.parse_known_args(argv)
    tree = args.tree.resolve()  # also the working directory: `-m` puts it first on the path
    env = {**os.environ, "PYTHONPATH": str(tree)}
    py = sys.executable
    cases = {
        "python -c pass (interpreter start)": [py, "-c", "pass"],
        "medcrypt-bot --help": [py, "-m", "medcrypt.bot", "--help"],
        "medcrypt-bot --version": [py, "-m", "medcrypt.bot", "--version"],
        "medcrypt --help": [py, "-m", "medcrypt.companion", "--help"],
    }
    if subprocess.run(cases["medcrypt-bot --version"], capture_output=True, env=env, cwd=tree,
                      check=False).returncode:
        del cases["medcrypt-bot --version"]  # an older checkout without --version
    samples: dict[str, list[float]] = {name: [] for name in cases}
    load_before = load_average()
    for _ in range(args.runs):  # interleaved: one sample of each per round
        for name, command in cases.items():
            samples[name].append(_time(command, env, tree))
    load_after = load_average()
    base = statistics.median(samples["python -c pass (interpreter start)"])
    print(f"\n## --help start-up of {args.tree}, median of {args.runs} fresh processes "
          f"(budget {BUDGET_MS} ms); load average before {load_before}, after {load_after}")
    print(f"{'case':<40} {'median':>10} {'vs python':>10}")
    for name, values in samples.items():
        med = statistics.median(values)
        print(f"{name:<40} {med * 1000:>8.1f}ms {med / base:>9.1f}x")
    med_help = statistics.median(samples["medcrypt-bot --help"]) * 1000
    print(f"medcrypt-bot --help: {'within' if med_help <= BUDGET_MS else 'OVER'} the "
          f"{BUDGET_MS} ms budget")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
