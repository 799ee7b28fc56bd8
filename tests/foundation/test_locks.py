"""Installs come from hashed locks that agree with pyproject.toml, and no requirement or
pin admits a release with a known advisory (issue 12 item 11, ADR 0015).

The attacks: a clinic that installs the wheel without the lock gets whatever the floors
allow (``pillow>=10`` allowed the libwebp heap overflow); a dependency edited in
pyproject.toml but never re-locked means the README's commands test something other
than what the project declares; a lock edited by hand to an older release slips past
both. ``scripts/locks.py check`` is what catches the last two, and it runs here on the
real files and on copies an attacker (or a hurried merge) has edited.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ("bot", "companion", "dev")

#: (package, the last release an advisory affects, the release that fixed it, advisory).
#: The newest advisory per package from the PyPA and GitHub databases; ADR 0015 lists them.
ADVISORIES = [
    ("pillow", "10.0.0", "10.0.1", "GHSA-j7hp-h8jx-5ppr"),  # libwebp heap overflow
    ("pillow", "12.2.0", "12.3.0", "GHSA-vjc4-5qp5-m44j"),
    ("cryptography", "49.0.0", "50.0.0", "GHSA-g6cj-pr64-35w5"),
    ("cryptography", "48.0.1", "49.0.0", "GHSA-m2h6-j472-rp4c"),
    ("pynacl", "1.6.1", "1.6.2", "GHSA-mrfv-m5wm-5w6w"),
    ("aiohttp", "3.14.1", "3.14.2", "GHSA-mq44-7p77-q5h7"),
    ("aiohttp", "3.14.0", "3.14.1", "GHSA-4m7w-qmgq-4wj5"),
    ("starlette", "1.3.0", "1.3.1", "GHSA-82w8-qh3p-5jfq"),
    ("setuptools", "82.0.1", "83.0.0", "GHSA-h35f-9h28-mq5c"),
    ("wheel", "0.46.1", "0.46.2", "GHSA-8rrh-rw8j-w5fx"),
    ("pytest", "9.0.2", "9.0.3", "GHSA-6w46-j5rx-g56g"),
]


def _requirements(root: Path) -> list[Requirement]:
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    lines = list(pyproject["project"]["dependencies"])
    for extra in pyproject["project"].get("optional-dependencies", {}).values():
        lines += extra
    lines += pyproject["build-system"]["requires"]
    return [Requirement(line) for line in lines]


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "locks.py"), "check",
                           "--root", str(root)], capture_output=True, text=True, check=False)


def _copy(tmp_path: Path) -> Path:
    """The files the check reads, copied so a test can edit them."""
    (tmp_path / "requirements").mkdir()
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for name in LOCKS:
        shutil.copy(ROOT / "requirements" / f"{name}.lock", tmp_path / "requirements")
    return tmp_path


@pytest.mark.parametrize(("package", "vulnerable", "fixed", "advisory"), ADVISORIES,
                         ids=[f"{a[0]}-{a[3]}" for a in ADVISORIES])
def test_no_requirement_admits_a_release_with_a_known_advisory(
        package: str, vulnerable: str, fixed: str, advisory: str) -> None:
    found = [r for r in _requirements(ROOT) if canonicalize_name(r.name) == package]
    assert found, f"{package} is no longer required: drop it from ADVISORIES"
    for req in found:
        assert not req.specifier.contains(Version(vulnerable), prereleases=True), (
            f"{req} admits {package} {vulnerable} ({advisory}; fixed in {fixed})")


@pytest.mark.parametrize(("package", "vulnerable", "fixed", "advisory"), ADVISORIES,
                         ids=[f"{a[0]}-{a[3]}" for a in ADVISORIES])
def test_no_lock_pins_a_release_with_a_known_advisory(
        package: str, vulnerable: str, fixed: str, advisory: str) -> None:
    pins = []
    for name in LOCKS:
        text = (ROOT / "requirements" / f"{name}.lock").read_text()
        pins += [(name, v) for v in re.findall(
            rf"^{re.escape(package)}==([^\s;\\]+)", text, re.MULTILINE | re.IGNORECASE)]
    assert pins, f"no lock pins {package}"
    assert [p for p in pins if Version(p[1]) < Version(fixed)] == [], advisory


def test_the_locks_agree_with_pyproject() -> None:
    done = _check(ROOT)
    assert done.returncode == 0, done.stderr
    assert "3 locks agree with pyproject.toml" in done.stdout


def test_every_lock_pins_with_hashes_for_every_platform() -> None:
    """Universal locks: packages for other platforms are pinned too, behind markers.

    tzdata is what a Windows install of tzlocal (APScheduler's time zones, the bot's)
    needs and a Linux one does not: a lock resolved for this machine alone would lack
    it, and a clinic's ``pip install --require-hashes`` on Windows would stop there. The
    companion has no such package since the bot's are the `bot` extra; the hashes below
    show its lock is universal all the same.
    """
    for name in LOCKS:
        text = (ROOT / "requirements" / f"{name}.lock").read_text()
        if name != "companion":
            assert re.search(r"^tzdata==\S+ ; .*sys_platform == 'win32'", text,
                             re.MULTILINE), name
        block = re.search(r"^cryptography==.*?(?=^\S)", text, re.MULTILINE | re.DOTALL)
        assert block is not None
        # cryptography ships wheels for manylinux, musllinux, macOS and Windows, and the
        # lock carries the hash of each (plus the sdist): far more than one platform's.
        assert len(re.findall(r"--hash=sha256:", block[0])) >= 20, name


@pytest.mark.parametrize(("edit", "stale"), [
    (("    \"zxcvbn>=4.5,<5\",", "    \"zxcvbn>=4.5,<5\",\n    \"requests>=2.32\","),
     {"bot", "companion", "dev"}),
    (("    \"build>=1.2\",", "    \"build>=1.3\","), {"dev"}),
    (("postgres = [\"psycopg[binary]>=3.2\"]", "postgres = [\"psycopg[binary]>=3.3\"]"),
     {"bot", "dev"}),
], ids=["new-dependency", "dev-extra-only", "postgres-extra"])
def test_editing_pyproject_without_relocking_fails_the_check(
        tmp_path: Path, edit: tuple[str, str], stale: set[str]) -> None:
    root = _copy(tmp_path)
    text = (root / "pyproject.toml").read_text()
    assert edit[0] in text
    (root / "pyproject.toml").write_text(text.replace(edit[0], edit[1], 1))
    done = _check(root)
    assert done.returncode == 1
    said = set(re.findall(r"requirements/(\w+)\.lock is stale", done.stderr))
    assert said == stale, done.stderr
    assert "run `bash scripts/lock.sh`" in done.stderr


def test_a_lock_edited_back_to_the_libwebp_release_fails_the_check(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    lock = root / "requirements" / "bot.lock"
    text, count = re.subn(r"^pillow==\S+", "pillow==10.0.0", lock.read_text(),
                          flags=re.MULTILINE)
    assert count == 1
    lock.write_text(text)
    done = _check(root)
    assert done.returncode == 1
    assert "bot.lock: pillow==10.0.0 does not satisfy pillow>=12.3" in done.stderr
    assert "bot.lock pins pillow==10.0.0, the dev lock pillow==" in done.stderr


def test_a_pin_without_hashes_fails_the_check(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    lock = root / "requirements" / "companion.lock"
    text, count = re.subn(r"^(segno==\S+) \\\n(?:\s+--hash=\S+(?: \\)?\n)+", r"\1\n",
                          lock.read_text(), flags=re.MULTILINE)
    assert count == 1
    lock.write_text(text)
    done = _check(root)
    assert done.returncode == 1
    assert "companion.lock: segno has no hash" in done.stderr
