"""Longest first: the order the xdist workers take the tests in.

scripts/test.sh runs ``-n 2 --dist loadgroup --no-loadscope-reorder``: the scheduler
hands out work units (a test, or a whole ``xdist_group``) in collection order, and
:func:`longest_first` sorts the collection by the expected seconds of each unit, so
the 5,000-message crash test starts at once on one worker while the other works
through everything else. A long test started last would leave one worker idle.

Expected seconds come from durations.json, committed next to this module: the tests
that take a second or more (setup, call and teardown together) on a 2-core machine.
A test missing from it counts as short and keeps its place in collection order. To
refresh it, run the suite with ``--durations=0`` and feed that report to
``python -m tests.support.scheduling < report.txt``.

Groups (tests that share a session fixture, or that time themselves):
- ``demo``: tests/demo/ shares one recorded run of the demo (tests/support/demo.py);
- ``timing-gates``: tests that assert a duration run one after another on one worker,
  never beside each other (:data:`TIMING_GATE`).
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import pytest

DURATIONS = Path(__file__).with_name("durations.json")
MIN_SECONDS = 1.0

#: Marks a test that asserts how long something took: such tests share one xdist group,
#: so they never run beside each other, and a loaded machine cannot stack two of them.
TIMING_GATE = pytest.mark.xdist_group("timing-gates")


def expected_seconds() -> dict[str, float]:
    return {str(k): float(v) for k, v in json.loads(DURATIONS.read_text()).items()}


def _group(item: pytest.Item) -> str | None:
    marks = [m for m in item.iter_markers("xdist_group")]
    if not marks:
        return None
    names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                    for m in marks})
    return "_".join(names)


def _base_nodeid(nodeid: str) -> str:
    """The node id without the ``@group`` suffix xdist appends under loadgroup."""
    at = nodeid.rfind("@")
    return nodeid[:at] if at > nodeid.rfind("]") else nodeid


def longest_first(items: list[pytest.Item], seconds: dict[str, float]) -> None:
    """Sort ``items`` in place: units with the most expected seconds first (stable)."""
    unit = {id(item): _group(item) or _base_nodeid(item.nodeid) for item in items}
    weight: dict[str, float] = defaultdict(float)
    for item in items:
        weight[unit[id(item)]] += seconds.get(_base_nodeid(item.nodeid), 0.0)
    items.sort(key=lambda item: -weight[unit[id(item)]])


#: One line of the report; a node id runs to the end of the line (parameter ids may
#: hold spaces: ``[missing Telegram token]``).
_LINE = re.compile(r"^\s*([0-9.]+)s (?:setup|call|teardown)\s+(\S.*?)\s*$")


def main() -> None:
    """Read pytest's ``--durations=0`` report on stdin; rewrite durations.json."""
    total: dict[str, float] = defaultdict(float)
    for line in sys.stdin:
        found = _LINE.match(line)
        if found:
            total[_base_nodeid(found.group(2))] += float(found.group(1))
    slow = {k: round(v, 1) for k, v in sorted(total.items(), key=lambda kv: -kv[1])
            if v >= MIN_SECONDS}
    DURATIONS.write_text(json.dumps(slow, indent=1) + "\n")


if __name__ == "__main__":
    main()
