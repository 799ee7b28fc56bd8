"""An older commit checked out beside this one, with a virtual environment of its own.

The side-by-side comparisons (``compare_relay``, ``compare_suite``) measure HEAD against
a base commit in the same run, alternating, so that a shared machine's noise falls on
both sides. The base needs its own tree and venv because older layouts install other
top-level names; both are kept under ``~/.cache/medcrypt-bench/SHA`` so a second
comparison does not reinstall.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "medcrypt-bench"


def run(cmd: list[str], cwd: Path, *, who: str) -> str:
    """Run ``cmd`` and return its stdout; exit with its stderr tail when it fails."""
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{who}: {' '.join(cmd)} failed in {cwd}:\n{done.stderr[-3000:]}")
    return done.stdout


def prepare_base(rev: str, *, who: str) -> tuple[Path, Path]:
    """Return (worktree, python) for ``rev``, creating either when missing."""
    sha = run(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], ROOT, who=who).strip()
    tree = CACHE / sha[:12]
    python = tree / ".venv" / "bin" / "python"
    if not (tree / ".git").exists():
        tree.parent.mkdir(parents=True, exist_ok=True)
        run(["git", "worktree", "add", "--force", "--detach", str(tree), sha], ROOT, who=who)
    if (tree / "scripts" / "bootstrap.sh").exists():
        # The tree's own way to its environment: the hashed lock with every extra (since
        # issue 15, `.[dev]` alone lacks the bot's). It is a no-op when nothing changed.
        run(["bash", "scripts/bootstrap.sh"], tree, who=who)
    elif not python.exists():
        run([sys.executable, "-m", "venv", str(tree / ".venv")], tree, who=who)
        run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "-e", ".[dev]"], tree, who=who)
    return tree, python
