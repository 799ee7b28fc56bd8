"""The deployment files in the repository are the ones the operator's guide installs.

- ``deploy/medcrypt-bot.service`` passes ``systemd-analyze verify`` with no output at all
  (scripts/verify_unit.sh; the test command also runs it on the wheel's smoke-test venv),
  and a misspelled directive - which systemd only warns about - fails the check.
- docs/OPERATIONS.md carries the unit verbatim, and its install section creates the very
  venv, config file and environment file the unit names.
- ``medcrypt-bot config example`` prints the shipped config.example.toml byte for byte,
  from the installed package, wherever it is run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "medcrypt-bot.service"
OPERATIONS = ROOT / "docs" / "OPERATIONS.md"
VERIFY = ROOT / "scripts" / "verify_unit.sh"
IN_CI = os.environ.get("CI") == "true"


def _needs_systemd_analyze() -> None:
    # Under CI the script installs Debian's systemd package itself; a developer's machine
    # without it (macOS, say) cannot run the check at all.
    if shutil.which("systemd-analyze") is None and not IN_CI:
        pytest.skip("systemd-analyze is not installed (outside CI; CI installs it)")


def _verify(unit: Path) -> subprocess.CompletedProcess[str]:
    venv = Path(sys.prefix)  # this test's own environment has the medcrypt-bot script
    return subprocess.run(["bash", str(VERIFY), str(venv), str(unit)], capture_output=True,
                          text=True, check=False, timeout=300)


def _unit_value(key: str) -> str:
    found = re.findall(rf"^{key}=(.*)$", UNIT.read_text(), re.MULTILINE)
    assert len(found) == 1, f"{key}= is set {len(found)} times in {UNIT.name}"
    return found[0]


def test_the_unit_passes_systemd_analyze_verify_with_no_output() -> None:
    _needs_systemd_analyze()
    proc = _verify(UNIT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr == ""


def test_a_misspelled_directive_fails_the_check(tmp_path: Path) -> None:
    """systemd ignores an unknown key with a warning and exit 0: the check must not."""
    _needs_systemd_analyze()
    text = UNIT.read_text()
    assert "\nProtectSystem=strict\n" in text
    broken = tmp_path / UNIT.name
    broken.write_text(text.replace("\nProtectSystem=strict\n", "\nProtectSytem=strict\n"))
    proc = _verify(broken)
    assert proc.returncode == 1
    assert "Unknown key 'ProtectSytem'" in proc.stderr


def test_the_unit_runs_the_documented_venv_in_its_state_directory() -> None:
    exec_start = _unit_value("ExecStart")
    assert exec_start == "/opt/medcrypt/venv/bin/medcrypt-bot --config /etc/medcrypt/bot.toml run"
    assert _unit_value("Type") == "notify"
    assert _unit_value("StateDirectory") == "medcrypt"
    # The default database.url is relative: it must land in the one writable directory.
    assert _unit_value("WorkingDirectory") == "/var/lib/medcrypt"
    assert _unit_value("ProtectSystem") == "strict"
    assert _unit_value("EnvironmentFile") == "/etc/medcrypt/bot.env"
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            if key.endswith(("Path", "Paths", "File", "Directory", "Start")) and value:
                assert value.startswith("/") or key == "StateDirectory", line


def test_operations_md_carries_the_unit_verbatim() -> None:
    blocks = re.findall(r"^```ini\n(.*?)^```$", OPERATIONS.read_text(), re.MULTILINE | re.DOTALL)
    assert UNIT.read_text() in blocks, "docs/OPERATIONS.md's unit differs from deploy/"


def test_operations_install_section_creates_what_the_unit_names() -> None:
    text = OPERATIONS.read_text()
    install = text.split("## 1. Install", 1)[1].split("\n## ", 1)[0]
    venv = _unit_value("ExecStart").split("/bin/medcrypt-bot", 1)[0]
    config = _unit_value("ExecStart").split("--config ", 1)[1].split()[0]
    for command in (f"python3 -m venv {venv}",
                    f"{venv}/bin/pip install --require-hashes -r requirements/bot.lock",
                    f"{venv}/bin/medcrypt-bot config example > {config}",
                    f"install -m 0600 /dev/null {_unit_value('EnvironmentFile')}",
                    f"install -m 0644 deploy/{UNIT.name} /etc/systemd/system/{UNIT.name}",
                    f"useradd --system --home-dir /var/lib/{_unit_value('StateDirectory')}"):
        assert command in install, f"OPERATIONS §1 lacks: {command}"


def test_config_example_prints_the_shipped_file(tmp_path: Path) -> None:
    """Run elsewhere, with no config: the text comes from the package, not the checkout."""
    env = {k: v for k, v in os.environ.items() if k != "MEDCRYPT_CONFIG"}
    proc = subprocess.run([sys.executable, "-m", "medcrypt.bot", "config", "example"],
                          capture_output=True, check=False, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (ROOT / "config.example.toml").read_bytes()


def test_the_top_level_example_is_the_packaged_one() -> None:
    top = ROOT / "config.example.toml"
    assert top.is_symlink()
    assert top.resolve() == (ROOT / "bot" / "config.example.toml").resolve()
