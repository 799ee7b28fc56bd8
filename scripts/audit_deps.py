"""The test command's dependency audit: every version pinned in requirements/*.lock,
looked up by pip-audit in a vulnerability service (ADR 0015).

  python scripts/audit_deps.py [--service osv|pypi] [--osv-url URL] [--timeout S] [LOCK...]

The first line is the verdict:
  "no known vulnerabilities in N pinned packages"  only when the service answered for
                                                   every pinned package; exit 0
  "FAILED: V known vulnerabilities in P packages"  one line per advisory follows; exit 1
  "not audited: <reason>"                          the service could not be reached, or
                                                   could not answer for some package; exit 0
Anything else (an unreadable lock, pip-audit missing or crashing) exits 2.

Why not pip-audit's own verdict: a package it cannot look up is "skipped", and it still
prints "No known vulnerabilities found" and exits 0. That is what happens behind a
registry proxy that serves PyPI's project pages but answers 404 for the per-version JSON
pip-audit's PyPI service reads, as on the project's machines. And an unreachable service
ends it with a traceback and exit 1, the same status as a found vulnerability. So this
reads pip-audit's JSON report (``--format json``), and its error output only to tell an
unreachable service from a broken run.

Markers are stripped before the audit: pip-audit would silently leave out a pin whose
marker does not match this machine (a Windows-only package on Linux), and every pin is
installed somewhere.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from locks import LOCK_DIR, ROOT, LockError, Pin, read_lock

SERVICES = ("osv", "pypi")
#: Exceptions that mean the service was not there to answer, as pip-audit leaves them:
#: its own ConnectionError (connect timeouts), requests' errors that it does not catch
#: (refused, unresolvable, read timeouts, TLS), and ServiceError (an HTTP error status).
UNREACHABLE = re.compile(
    r"^(?:requests\.exceptions\.(?:ConnectionError|ConnectTimeout|ReadTimeout|Timeout|"
    r"SSLError|ProxyError|HTTPError|ChunkedEncodingError)|"
    r"pip_audit\._service\.interface\.(?:ServiceError|ConnectionError))\b:?\s*(.*)$",
    re.MULTILINE,
)
PIP_AUDIT_TIP = "Tip: your network may be blocking this service"
CAUSES = ("Connection refused", "Failed to resolve", "Name or service not known",
          "Read timed out", "timed out", "certificate verify failed", "Server Error",
          "Client Error", "Could not connect")


@dataclass
class Audit:
    """What pip-audit said about the pins, gathered over every run."""

    pins: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # -> lock files
    vulns: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    checked: set[tuple[str, str]] = field(default_factory=set)
    skipped: dict[str, str] = field(default_factory=dict)  # name -> pip-audit's reason
    unreachable: str | None = None


class AuditError(Exception):
    """pip-audit could not run, or left no report and no sign of a network failure."""


def _requirement(pin: Pin) -> str:
    if pin.url is not None:
        return f"{pin.name} @ {pin.url}"
    return f"{pin.name}=={pin.version}"


def _batches(pins: list[Pin]) -> list[list[Pin]]:
    """Runs with one version per name each: pip-audit refuses a name pinned twice."""
    batches: list[dict[str, Pin]] = []
    for pin in pins:
        home = next((b for b in batches if pin.name not in b
                     or _requirement(b[pin.name]) == _requirement(pin)), None)
        if home is None:
            home = {}
            batches.append(home)
        home[pin.name] = pin
    return [list(b.values()) for b in batches]


def _cause(stderr: str) -> str:
    found = UNREACHABLE.findall(stderr)
    message = next((m for m in reversed(found) if m.strip()), "")
    message = re.sub(r" object at 0x[0-9a-f]+", "", message)
    host = re.search(r"host='([^']+)'", message)
    cause = next((c for c in CAUSES if c in message), None)
    if cause in {"Server Error", "Client Error"}:
        cause = message.split(" for url:")[0].strip()
    if host and cause:
        return f"{host[1]}: {cause}"
    return (cause or message or "no answer")[:200]


def _run(batch: list[Pin], args: argparse.Namespace, work: Path, audit: Audit) -> None:
    requirements = work / "pins.txt"
    report = work / "report.json"
    requirements.write_text("".join(f"{_requirement(p)}\n" for p in batch))
    report.unlink(missing_ok=True)
    command = [sys.executable, "-m", "pip_audit", "--requirement", str(requirements),
               "--no-deps", "--disable-pip", "--format", "json", "--output", str(report),
               "--progress-spinner", "off", "--vulnerability-service", args.service,
               "--timeout", str(args.timeout), "--desc", "off", "--aliases", "on"]
    if args.osv_url:
        command += ["--osv-url", args.osv_url]
    if args.cache_dir:
        command += ["--cache-dir", str(args.cache_dir)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if not report.is_file():
        if UNREACHABLE.search(done.stderr) or PIP_AUDIT_TIP in done.stderr:
            audit.unreachable = audit.unreachable or _cause(done.stderr)
            return
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise AuditError(f"pip-audit exited {done.returncode} without a report:\n{tail}")
    for dep in json.loads(report.read_text())["dependencies"]:
        if "skip_reason" in dep:
            audit.skipped[dep["name"]] = dep["skip_reason"]
            continue
        key = (dep["name"], dep["version"])
        audit.checked.add(key)
        if dep["vulns"]:
            audit.vulns[key] = dep["vulns"]


def audit_locks(locks: list[Path], args: argparse.Namespace) -> Audit:
    audit = Audit()
    pins: list[Pin] = []
    for lock in locks:
        for pin in read_lock(lock):
            key = (pin.name, pin.version or pin.url or "")
            audit.pins.setdefault(key, []).append(str(lock.relative_to(lock.parents[1])))
            pins.append(pin)
    with tempfile.TemporaryDirectory() as tmp:
        for batch in _batches(pins):
            _run(batch, args, Path(tmp), audit)
    return audit


def verdict(audit: Audit, service: str) -> tuple[int, list[str]]:
    """The exit status and the lines to print, verdict first."""
    total = len(audit.pins)
    lines: list[str] = []
    unchecked = [k for k in audit.pins if k not in audit.checked]
    if audit.vulns:
        count = sum(len(v) for v in audit.vulns.values())
        lines.append(f"FAILED: {count} known vulnerabilit{'y' if count == 1 else 'ies'} in "
                     f"{len(audit.vulns)} pinned package{'s' * (len(audit.vulns) != 1)} "
                     f"({service})")
        for (name, version), vulns in sorted(audit.vulns.items()):
            where = ", ".join(audit.pins.get((name, version), []))
            for vuln in vulns:
                aliases = ", ".join(a for a in vuln.get("aliases", []) if a != vuln["id"])
                fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed release yet"
                lines.append(f"  {name} {version} ({where}): {vuln['id']}"
                             f"{f' ({aliases})' if aliases else ''}, fixed in {fixed}")
        lines.append("  raise the floor in pyproject.toml past the fix, then run: "
                     "bash scripts/lock.sh")
    if audit.unreachable is not None:
        lines.append(f"not audited: the {service} vulnerability service could not be reached "
                     f"({audit.unreachable}); {len(unchecked)} of {total} pinned packages "
                     "unchecked")
    elif unchecked:
        reasons = [audit.skipped.get(name, "pip-audit did not report on it")
                   for name, _ in unchecked]
        lines.append(f"not audited: {len(unchecked)} of {total} pinned packages, "
                     f"pip-audit could not look them up in {service}:")
        lines += [f"  {reason}" for reason in reasons[:5]]
        if len(reasons) > 5:
            lines.append(f"  ... and {len(reasons) - 5} more")
    if audit.vulns:
        return 1, lines
    if not lines:
        lines.append(f"no known vulnerabilities in {total} pinned packages ({service})")
    return 0, lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("locks", nargs="*", type=Path,
                        help=f"lock files (default: {LOCK_DIR}/*.lock)")
    parser.add_argument("--service", choices=SERVICES, default="osv")
    parser.add_argument("--osv-url", help="the OSV query endpoint (default: pip-audit's)")
    parser.add_argument("--timeout", type=int, default=15, help="seconds per request")
    parser.add_argument("--cache-dir", type=Path, help="pip-audit's HTTP cache")
    args = parser.parse_args(argv)
    locks = [p.resolve() for p in args.locks] or sorted((ROOT / LOCK_DIR).glob("*.lock"))
    try:
        if not locks:
            raise AuditError(f"no lock files in {ROOT / LOCK_DIR}")
        audit = audit_locks(locks, args)
    except (AuditError, LockError, OSError, ValueError, KeyError) as exc:
        sys.stderr.write(f"dependency audit: could not run: {exc}\n")
        return 2
    status, lines = verdict(audit, args.service)
    sys.stdout.write("".join(f"dependency audit: {lines[0]}\n" if i == 0 else f"{line}\n"
                             for i, line in enumerate(lines)))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
