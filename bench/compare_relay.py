"""The relay benchmark of HEAD against an older commit, side by side in one run.

``python -m bench.compare_relay [--base REV] [--rounds N] [--messages N]
[--latency-messages N]`` checks the base commit out into a worktree of its own with a
virtual environment of its own (kept under ``~/.cache/medcrypt-bench/REV``, so a second
comparison does not reinstall), then runs ``python -m bench.run relay`` alternately in
the base tree and in this one, N rounds each. Alternating spreads the machine's noise
(other sessions, thermal state) over both sides instead of charging it to whichever ran
second. It prints every round and the medians, and the ratio HEAD/base for the bot's CPU
per relayed message (the steadiest figure on a shared machine), p99 added latency and
the intake and worker costs; throughput is shown as base/HEAD so that every ratio reads
"above 1 = HEAD is worse". It also prints the median of the per-round paired ratios
(each round's HEAD over the base round just before it).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
from pathlib import Path

from bench.worktree import ROOT, prepare_base, run

WHO = "compare_relay"

#: name -> (regex over the benchmark's output, lower is better?)
FIGURES: dict[str, tuple[re.Pattern[str], bool]] = {
    "tg_to_wa bot CPU ms/msg": (re.compile(r"tg_to_wa\s+[\d.]+ msg/s\s+bot CPU\s+([\d.]+)"), True),
    "wa_to_tg bot CPU ms/msg": (re.compile(r"wa_to_tg\s+[\d.]+ msg/s\s+bot CPU\s+([\d.]+)"), True),
    "tg_to_wa msg/s": (re.compile(r"tg_to_wa\s+([\d.]+) msg/s"), False),
    "wa_to_tg msg/s": (re.compile(r"wa_to_tg\s+([\d.]+) msg/s"), False),
    "p99 added latency ms": (re.compile(r"both\s+p50\s+[\d.]+ ms\s+p99\s+([\d.]+)"), True),
    "intake ms/msg": (re.compile(r"intake per inbound message\s+([\d.]+)"), True),
    "worker ms/row": (re.compile(r"worker claim\+mark per outbound row\s+([\d.]+)"), True),
}
HEADLINE = ("tg_to_wa bot CPU ms/msg", "wa_to_tg bot CPU ms/msg")


def one_round(tree: Path, python: Path, args: argparse.Namespace) -> dict[str, float]:
    out = run([str(python), "-m", "bench.run", "relay", f"--messages={args.messages}",
               f"--latency-messages={args.latency_messages}"], tree, who=WHO)
    found: dict[str, float] = {}
    for name, (pattern, _lower) in FIGURES.items():
        match = pattern.search(out)
        if match is None:
            sys.exit(f"compare_relay: no '{name}' in the output of {tree}:\n{out[-2000:]}")
        found[name] = float(match.group(1))
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="compare_relay")
    parser.add_argument("--base", default="06f4938")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--latency-messages", type=int, default=1000)
    args = parser.parse_args(argv)
    base_tree, base_py = prepare_base(args.base, who=WHO)
    head_py = Path(sys.executable)
    rounds: dict[str, list[dict[str, float]]] = {"base": [], "head": []}
    for i in range(args.rounds):
        for side, tree, python in (("base", base_tree, base_py), ("head", ROOT, head_py)):
            load = os.getloadavg()[0]
            rounds[side].append(one_round(tree, python, args))
            row = rounds[side][-1]
            print(f"round {i + 1} {side:<4} load {load:4.2f}  " + "  ".join(
                f"{name.split()[0]} {row[name]:.3f}" for name in HEADLINE), flush=True)
    print(f"\n## relay benchmark, HEAD vs {args.base}: medians of {args.rounds} alternating "
          f"rounds ({args.messages} messages each way, {args.latency_messages} for latency)")
    print(f"{'figure':<26} {'base':>10} {'HEAD':>10} {'ratio':>8}   (ratio > 1: HEAD worse)")
    worst = 0.0
    for name, (_pattern, lower_better) in FIGURES.items():
        b = statistics.median(r[name] for r in rounds["base"])
        h = statistics.median(r[name] for r in rounds["head"])
        ratio = h / b if lower_better else b / h
        if name in HEADLINE:
            worst = max(worst, ratio)
        print(f"{name:<26} {b:>10.3f} {h:>10.3f} {ratio:>7.2f}x")
    print(f"headline (bot CPU per relayed message, worse direction): HEAD/base = {worst:.2f} "
          f"(goal <= 1.10)")
    # Each round's two sides ran back to back, so their ratio shares the machine's state
    # at the time; on a shared host whose CPU time per unit of work drifts by 2x within
    # minutes, the median of those paired ratios is the steadier estimate.
    paired = [statistics.median(h[name] / b[name] for b, h in zip(rounds["base"], rounds["head"],
                                                                   strict=True))
              for name in HEADLINE]
    print("paired (median over rounds of HEAD/base in the same round): " + ", ".join(
        f"{name.split()[0]} {ratio:.2f}x" for name, ratio in zip(HEADLINE, paired, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
