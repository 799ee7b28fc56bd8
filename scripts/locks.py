"""The hashed locks in requirements/: what each install set is compiled from, and whether
the locks still agree with pyproject.toml (ADR 0015).

One lock per install set, each derived from pyproject.toml by a rule rather than a list,
so a new extra (a `bot` extra for a companion-only install, say) lands in the right sets
without an edit here, and the check below names every lock it made stale:

  companion  the project's dependencies and no extra: a patient's or physician's install
  bot        the dependencies with every extra except dev: a clinic's install
  dev        every extra plus the build backend: what the README's two commands install

The dev lock is compiled first and pins the other two (as constraints), so a clinic runs
exactly the versions the test command tested. Every lock is universal (markers for every
platform, Python 3.11 and newer) and carries the sha256 of every file PyPI has for each
pinned version, so `pip install --require-hashes` works on Linux, macOS and Windows.

  python scripts/locks.py compile [--upgrade]  # rewrite every lock (bash scripts/lock.sh)
  python scripts/locks.py check [--root DIR]   # one line per disagreement, exit 1 if any
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK_DIR = "requirements"
SETS = ("dev", "bot", "companion")  # dev first: it constrains the other two
DEV_EXTRA = "dev"
INDEX = "https://pypi.org/simple"
REFRESH = "bash scripts/lock.sh"
INPUTS_LINE = re.compile(r"^# inputs sha256:([0-9a-f]{64})\b", re.MULTILINE)
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*"
    r"(?:==\s*(?P<version>[^\s;\\]+)|@\s*(?P<url>\S+))\s*(?:;\s*(?P<marker>[^\\]+?))?\s*$"
)
HASH = re.compile(r"--hash=(sha256:[0-9a-f]{64})")


class LockError(Exception):
    """A lock or pyproject.toml that cannot be read the way this module needs."""


@dataclass(frozen=True)
class Pin:
    """One requirement line of a lock: a name pinned to a version (or a URL), with hashes."""

    name: str  # canonical (PEP 503)
    line: str  # the requirement as written, without hashes
    version: str | None
    url: str | None
    marker: str | None
    hashes: tuple[str, ...] = field(default=())


def read_lock(path: Path) -> list[Pin]:
    """The pins of a requirements file as uv writes it: one requirement per logical line
    (backslash continuations), its hashes on the continuation lines, comments apart."""
    pins: list[Pin] = []
    logical = ""
    for raw in [*path.read_text().splitlines(), ""]:
        stripped = raw.strip()
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            logical += " " + stripped[:-1]
            continue
        logical = (logical + " " + stripped).strip()
        if logical:
            pins.append(_pin(logical, path))
        logical = ""
    return pins


def _pin(logical: str, path: Path) -> Pin:
    hashes = tuple(HASH.findall(logical))
    requirement = HASH.sub("", logical).strip()
    match = PIN.match(requirement)
    if match is None:
        raise LockError(f"{path}: not a pinned requirement: {requirement[:80]}")
    return Pin(name=canonicalize_name(match["name"]), line=requirement, version=match["version"],
               url=match["url"], marker=match["marker"], hashes=hashes)


@dataclass(frozen=True)
class InstallSet:
    """What one lock is compiled from: pyproject's requirements for that install."""

    name: str
    extras: tuple[str, ...]
    requirements: tuple[str, ...]  # normalized, sorted; the project's and the extras'
    build: tuple[str, ...]  # [build-system].requires, for the dev set's editable install
    requires_python: str

    def digest(self) -> str:
        doc = {"set": self.name, "extras": list(self.extras), "requires-python":
               self.requires_python, "requirements": list(self.requirements),
               "build": list(self.build)}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    def lock(self, root: Path) -> Path:
        return root / LOCK_DIR / f"{self.name}.lock"


def install_sets(root: Path) -> dict[str, InstallSet]:
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    project = pyproject["project"]
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    extras = {
        "companion": (),
        "bot": tuple(sorted(e for e in optional if e != DEV_EXTRA)),
        "dev": tuple(sorted(optional)),
    }

    def normalized(lines: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted({str(Requirement(line)) for line in lines}))

    sets = {}
    for name in SETS:
        lines = list(project.get("dependencies", []))
        for extra in extras[name]:
            lines += optional[extra]
        build = pyproject["build-system"]["requires"] if name == "dev" else []
        sets[name] = InstallSet(name, extras[name], normalized(lines), normalized(build),
                                str(project.get("requires-python", "")))
    return sets


def check(root: Path) -> list[str]:
    """Every way the locks can disagree with pyproject.toml or with each other."""
    problems: list[str] = []
    sets = install_sets(root)
    pinned: dict[str, set[tuple[str, str | None]]] = {}
    for spec in sets.values():
        path = spec.lock(root)
        rel = path.relative_to(root)
        if not path.is_file():
            problems.append(f"{rel} is missing")
            continue
        text = path.read_text()
        found = INPUTS_LINE.search(text)
        if found is None or found[1] != spec.digest():
            problems.append(f"{rel} is stale: pyproject.toml's requirements for the "
                            f"{spec.name} install changed since it was compiled")
        pins = read_lock(path)
        pinned[spec.name] = {(p.name, p.version) for p in pins}
        for pin in pins:
            if not pin.hashes:
                problems.append(f"{rel}: {pin.name} has no hash")
            if pin.version is None:
                problems.append(f"{rel}: {pin.name} is not pinned to a version")
        for line in spec.requirements + spec.build:
            req = Requirement(line)
            versions = [p.version for p in pins
                        if p.name == canonicalize_name(req.name) and p.version]
            if not versions and req.marker is None:  # a marked one may apply to no platform
                problems.append(f"{rel}: {req.name} is required but not pinned")
            for version in versions:
                if not req.specifier.contains(Version(version), prereleases=True):
                    problems.append(f"{rel}: {req.name}=={version} does not satisfy "
                                    f"{req.name}{req.specifier} from pyproject.toml")
    dev = pinned.get("dev", set())
    for name in ("bot", "companion"):
        for package, version_pin in sorted(pinned.get(name, set()) - dev, key=str):
            if dev:
                tested = ", ".join(sorted(str(v) for n, v in dev if n == package)) or "none"
                problems.append(f"{LOCK_DIR}/{name}.lock pins {package}=={version_pin}, the dev "
                                f"lock {package}=={tested}: the test command must test "
                                "what is installed")
    known = {f"{name}.lock" for name in SETS}
    lock_dir = root / LOCK_DIR
    if lock_dir.is_dir():
        problems += [f"{LOCK_DIR}/{p.name} belongs to no install set"
                     for p in sorted(lock_dir.glob("*.lock")) if p.name not in known]
    return problems


def _oldest_python(requires_python: str) -> str:
    found = re.search(r">=\s*(\d+\.\d+)", requires_python)
    if found is None:
        raise LockError(f"requires-python {requires_python!r} names no lowest version")
    return found[1]


def _uv(args: list[str], stdin: str) -> None:
    # UV_* variables (an index, a config file) would make the locks depend on the machine.
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_")}
    subprocess.run([sys.executable, "-m", "uv", *args], input=stdin, text=True,  # noqa: S603
                   check=True, env=env, cwd=ROOT)


def _header(spec: InstallSet) -> str:
    extras = ", ".join(spec.extras) or "none"
    build = " and the build backend" if spec.build else ""
    return (f"# install set {spec.name!r}: pyproject.toml's dependencies, extras: {extras}"
            f"{build};\n# every platform, Python {spec.requires_python}. Refresh: {REFRESH}\n"
            f"# inputs sha256:{spec.digest()} (python scripts/locks.py check)\n")


def compile_locks(upgrade: bool) -> None:
    """Rewrite every lock with uv; existing pins stay unless pyproject or --upgrade moves them."""
    sets = install_sets(ROOT)
    (ROOT / LOCK_DIR).mkdir(exist_ok=True)
    dev_lock = sets["dev"].lock(ROOT).relative_to(ROOT)  # relative: the locks name it
    for spec in (sets[name] for name in SETS):
        out = spec.lock(ROOT)
        args = ["pip", "compile", "pyproject.toml", "--universal", "--generate-hashes",
                "--python-version", _oldest_python(spec.requires_python),
                "--no-config", "--default-index", INDEX, "--quiet",
                "--custom-compile-command", REFRESH, "--output-file", str(out)]
        args += [a for extra in spec.extras for a in ("--extra", extra)]
        if spec.build:
            args.append("-")  # the build backend, read from stdin
        if spec.name != "dev":  # the dev lock, written first, pins the other two
            args += ["--constraint", str(dev_lock)]
        if upgrade:
            args.append("--upgrade")
        _uv(args, stdin="".join(f"{line}\n" for line in spec.build))
        head, sep, body = out.read_text().partition(f"#    {REFRESH}\n")
        if not sep:
            raise LockError(f"{out}: uv's header changed; expected '{REFRESH}' in it")
        out.write_text(head + sep + _header(spec) + body)
    problems = check(ROOT)
    if problems:
        raise LockError("the new locks fail their own check:\n" + "\n".join(problems))


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    comp = sub.add_parser("compile", help="rewrite every lock with uv")
    comp.add_argument("--upgrade", action="store_true", help="move every pin to the newest")
    chk = sub.add_parser("check", help="do the locks agree with pyproject.toml?")
    chk.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    try:
        if args.command == "compile":
            compile_locks(args.upgrade)
            sys.stdout.write(f"locks: {', '.join(f'{LOCK_DIR}/{n}.lock' for n in SETS)} "
                             "written\n")
            return 0
        problems = check(args.root.resolve())
    except (LockError, OSError, KeyError, tomllib.TOMLDecodeError,
            subprocess.CalledProcessError) as exc:
        sys.stderr.write(f"locks: {exc}\n")
        return 2
    for problem in problems:
        sys.stderr.write(f"locks: {problem}\n")
    if problems:
        sys.stderr.write(f"locks: run `{REFRESH}` and commit requirements/\n")
        return 1
    sys.stdout.write(f"locks: {len(SETS)} locks agree with pyproject.toml\n")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
