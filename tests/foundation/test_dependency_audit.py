"""The test command's dependency audit (scripts/audit_deps.py, issue 12 item 11).

Each test runs the real script and the real pip-audit, against a vulnerability service
on loopback (tests/support/osv.py) or against none at all. The attacks: a run that could
not ask anyone must not read as a clean bill of health ("not audited", never "no known
vulnerabilities"), and a pinned release with a published advisory must fail the test
command.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from tests.support.osv import PILLOW_LIBWEBP, advisory, fake_osv
from tests.support.ports import worker_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "audit_deps.py"
CLEAN = re.compile(r"no known vulnerabilities", re.IGNORECASE)


def _audit(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--cache-dir", str(tmp_path / "cache"), *args],
        capture_output=True, text=True, check=False, timeout=300)


def _real_pins() -> set[tuple[str, str]]:
    pins: set[tuple[str, str]] = set()
    for lock in sorted((ROOT / "requirements").glob("*.lock")):
        pins |= {(canonicalize_name(m[0]), m[1]) for m in re.findall(
            r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", lock.read_text(), re.MULTILINE)}
    return pins


def _lock(tmp_path: Path, *lines: str) -> Path:
    lock = tmp_path / "requirements" / "small.lock"
    lock.parent.mkdir(exist_ok=True)
    lock.write_text("".join(f"{line}\n" for line in lines))
    return lock


def test_no_service_to_ask_is_not_audited_and_does_not_fail(tmp_path: Path) -> None:
    """Nothing listens on the service's port: pip-audit dies with a ConnectionError."""
    url = f"http://127.0.0.1:{worker_port()}/v1/query"
    done = _audit(tmp_path, "--osv-url", url)
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("dependency audit: not audited: the osv vulnerability service "
                            "could not be reached (127.0.0.1: Connection refused)"), done.stdout
    assert f"{len(_real_pins())} of {len(_real_pins())} pinned packages unchecked" in first
    assert not CLEAN.search(done.stdout)


def test_a_service_that_never_answers_is_not_audited(tmp_path: Path) -> None:
    with fake_osv(behaviour="silent") as osv:
        done = _audit(tmp_path, "--osv-url", osv.url, "--timeout", "1",
                      str(_lock(tmp_path, "idna==3.10")))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("dependency audit: not audited: the osv vulnerability "
                                  "service could not be reached (127.0.0.1: Read timed out)")
    assert not CLEAN.search(done.stdout)


def test_a_service_answering_errors_is_not_audited(tmp_path: Path) -> None:
    with fake_osv(behaviour="error", status=503) as osv:
        done = _audit(tmp_path, "--osv-url", osv.url, str(_lock(tmp_path, "idna==3.10")))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("dependency audit: not audited: the osv vulnerability "
                                  "service could not be reached (503 Server Error")
    assert not CLEAN.search(done.stdout)


def test_a_package_pip_audit_cannot_look_up_is_not_audited(tmp_path: Path) -> None:
    """pip-audit skips a pin it cannot look up and still says "No known vulnerabilities
    found" with exit 0; the audit must report the gap instead."""
    lock = _lock(tmp_path, "idna==3.10",
                 "zxing-cpp @ https://files.example.invalid/zxing_cpp-3.1.1.tar.gz")
    with fake_osv() as osv:
        done = _audit(tmp_path, "--osv-url", osv.url, str(lock))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == ("dependency audit: not audited: 1 of 2 pinned packages, pip-audit "
                        "could not look them up in osv:")
    assert "URL requirements cannot be pinned" in lines[1]
    assert osv.queries == [("idna", "3.10")]
    assert not CLEAN.search(done.stdout)


def test_the_libwebp_release_of_pillow_fails_the_audit(tmp_path: Path) -> None:
    lock = _lock(tmp_path, "pillow==10.0.0", "idna==3.10")
    with fake_osv([PILLOW_LIBWEBP]) as osv:
        done = _audit(tmp_path, "--osv-url", osv.url, str(lock))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == ("dependency audit: FAILED: 1 known vulnerability in 1 pinned "
                        "package (osv)")
    # pip-audit names an advisory by its CVE when it has one, the others as aliases.
    assert lines[1] == ("  pillow 10.0.0 (requirements/small.lock): CVE-2023-4863 "
                        "(GHSA-j7hp-h8jx-5ppr), fixed in 10.0.1")
    assert sorted(osv.queries) == [("idna", "3.10"), ("pillow", "10.0.0")]


def test_an_advisory_for_a_pinned_release_fails_the_test_command(tmp_path: Path) -> None:
    """The real locks, and an advisory published today for the aiohttp they pin."""
    pins = _real_pins()
    aiohttp = next(v for name, v in pins if name == "aiohttp")
    record: dict[str, Any] = advisory("GHSA-test-aioh-ttp0", "aiohttp", "99.0",
                                      "request smuggling (planted by the test)")
    with fake_osv([record]) as osv:
        done = _audit(tmp_path, "--osv-url", osv.url)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines()[:2] == [
        "dependency audit: FAILED: 1 known vulnerability in 1 pinned package (osv)",
        f"  aiohttp {aiohttp} (requirements/bot.lock, requirements/dev.lock): "
        "GHSA-test-aioh-ttp0, fixed in 99.0"]  # the bot's: not in the companion's lock
    assert set(osv.queries) == pins


def test_clean_answers_for_every_pin_are_no_known_vulnerabilities(tmp_path: Path) -> None:
    with fake_osv([PILLOW_LIBWEBP]) as osv:
        done = _audit(tmp_path, "--osv-url", osv.url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == (f"dependency audit: no known vulnerabilities in "
                           f"{len(_real_pins())} pinned packages (osv)\n")
    assert len(set(osv.queries)) == len(osv.queries) == len(_real_pins())


def test_a_lock_that_cannot_be_read_fails(tmp_path: Path) -> None:
    lock = _lock(tmp_path, "this is not a requirement")
    done = _audit(tmp_path, "--osv-url", "http://127.0.0.1:9/v1/query", str(lock))
    assert done.returncode == 2
    assert "dependency audit: could not run:" in done.stderr
    assert "not a pinned requirement" in done.stderr
