"""The test suite's own rules: where shared code lives, and what the xdist scheduler needs.

- A test module imports shared code from tests/support/ only - never from a
  ``conftest.py``, never from another test module - or one of the programs that live
  beside the tests (the vector generators and the fuzz harness).
- Every test that reads the recorded demo run is in the ``demo`` xdist group: a session
  fixture runs once per *worker*, so a stray test on the other worker would run the
  whole story a second time.
- Under ``--dist loadgroup`` the groups really reach the scheduler (pytest-xdist 3.8
  with pytest 9.2 ignores every group without a word: pytest-xdist#1386).
- The longest test is scheduled first.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.scheduling import _group, expected_seconds, longest_first

TESTS = Path(__file__).resolve().parents[1]
PROGRAMS = ("tests.fuzz", "tests.vectors", "tests.companion.gen_vectors")


def _imports(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                package = path.parent.relative_to(TESTS.parent).parts
                base = ".".join(package[: len(package) - node.level + 1])
                found.append(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found


def test_shared_code_comes_from_tests_support_only() -> None:
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        for module in _imports(path):
            if module == "tests" or not module.startswith("tests."):
                continue
            if module.startswith("tests.support") or module.startswith(PROGRAMS):
                continue
            offenders.append(f"{path.relative_to(TESTS.parent)} imports {module}")
    assert offenders == []


def test_support_imports_no_test_module_and_no_conftest() -> None:
    for path in sorted((TESTS / "support").glob("*.py")):
        for module in _imports(path):
            last = module.rsplit(".", 1)[-1]
            assert not last.startswith("test_") and last != "conftest", (path, module)


def test_every_reader_of_the_recorded_demo_is_in_the_demo_group(
        request: pytest.FixtureRequest) -> None:
    readers = [item for item in request.session.items
               if "demo_run" in getattr(item, "fixturenames", ())]
    if not readers:
        pytest.skip("no test of tests/demo was collected in this run")
    assert {_group(item) for item in readers} == {"demo"}


def test_xdist_groups_reach_the_scheduler(request: pytest.FixtureRequest) -> None:
    """loadgroup sends a group to one worker only if its tests' node ids end in @group."""
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not a --dist loadgroup worker")
    grouped = [item for item in request.session.items if _group(item)]
    assert grouped, "no test carries an xdist_group mark"
    stray = [item.nodeid for item in grouped if not item.nodeid.endswith(f"@{_group(item)}")]
    assert stray == []


class _Item:
    def __init__(self, nodeid: str, group: str | None = None) -> None:
        self.nodeid = nodeid
        self._marks = [pytest.mark.xdist_group(group).mark] if group else []

    def iter_markers(self, name: str) -> list[pytest.Mark]:
        return [m for m in self._marks if m.name == name]


def test_the_longest_test_starts_first_and_groups_stay_whole() -> None:
    seconds = expected_seconds()
    longest = max(seconds, key=lambda k: seconds[k])
    # the two 5,000-message runs under faults and SIGKILLs (one bot; three replicas)
    assert longest in {
        "tests/bot/test_crash_faults.py::test_faults_and_two_sigkills_lose_nothing",
        "tests/ha/test_three_replicas.py::test_leader_killed_twice_loses_nothing_and_fails_over_fast",
    }
    items = [_Item("tests/a.py::quick"), _Item("tests/demo/test_demo.py::t1", "demo"),
             _Item(longest), _Item("tests/b.py::quick"),
             _Item("tests/demo/test_capture.py::test_nothing_but_tokens_reaches_platforms_"
                   "database_or_logs", "demo")]
    longest_first(items, seconds)  # type: ignore[arg-type]
    assert [i.nodeid for i in items] == [
        longest, "tests/demo/test_demo.py::t1",
        "tests/demo/test_capture.py::test_nothing_but_tokens_reaches_platforms_database_or_logs",
        "tests/a.py::quick", "tests/b.py::quick"]
