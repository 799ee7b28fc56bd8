"""A PHI-free text table of the jobs in plain words: next run, last run, what it did.

Shared by ``medcrypt-bot jobs list`` and the admins' ``/jobs`` chat command, so both
show the same thing. A clinic admin reads it, not the developer who wrote the job: the
summary a run records (``epoch=683``, ``scrub=sqlite_wal_checkpoint_truncate``) is
turned into words and dates here (issue 16); a key this table does not know yet is
shown with its underscores as spaces rather than dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from medcrypt.bot.domain.lifecycle.names import JOBS
from medcrypt.bot.domain.lifecycle.runs import LastRun, last_runs
from medcrypt.bot.domain.services import Services
from medcrypt.bot.scheduler.runner import next_runs
from medcrypt.crypto.keyless.epochs import format_epoch

#: What each job is, for a reader who does not know the code.
TITLES = {
    "rotation": "monthly key rotation (new month opened for every pairing, members told)",
    "shred_sweep": "destroys what the relay holds of months past their grace window",
}
#: How a run was started.
TRIGGERS = {"schedule": "on schedule", "startup": "at bot start (catching up)",
            "manual": "started by hand"}
#: What the post-shred scrub did (storage.remanence.scrub).
SCRUBS = {
    "none": "",
    "busy": "database compaction postponed (database busy)",
    "sqlite_wal_checkpoint_truncate": "database file compacted",
    "postgres_vacuum": "database vacuumed",
    "postgres_vacuum_full": "database fully vacuumed",
}
_COUNTS: dict[str, str] = {
    "pairings": "{} pairing(s) checked",
    "epochs_created": "{} month(s) opened",
    "epochs_retired": "{} month(s) now in their grace window",
    "epochs_shredded": "{} month(s) destroyed",
    "notices_queued": "{} notice(s) to members",
    "warnings_queued": "{} warning(s) to members",
    "notices": "{} notice(s) to members",
    "tokens": "{} stored message(s) deleted",
    "escrow": "{} escrow deposit(s) deleted",
    "deposits": "{} escrow deposit(s) deleted",
    "media": "{} file(s) deleted",
    "parts": "{} message piece(s) deleted",
    "records": "{} pairing record(s) deleted",
}


def _month(value: Any) -> str:
    return f"for {format_epoch(int(value))}"


def _scrub(value: Any) -> str:
    return SCRUBS.get(str(value), str(value).replace("_", " "))


_SPECIAL: dict[str, Callable[[Any], str]] = {"epoch": _month, "scrub": _scrub}


def _fmt(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def plain_summary(summary: dict[str, Any]) -> str:
    """A run's recorded counts as words: nothing for zeros, months by name."""
    words = []
    for key, value in summary.items():
        if value in (0, "none", None, ""):
            continue
        if key in _SPECIAL:
            words.append(_SPECIAL[key](value))
        elif key in _COUNTS:
            words.append(_COUNTS[key].format(value))
        else:
            words.append(f"{key.replace('_', ' ')}: {value}")
    return ", ".join(w for w in words if w)


def _last(run: LastRun) -> str:
    what = plain_summary(run.summary)
    outcome = "done" if run.outcome == "ok" else run.outcome.replace("_", " ")
    line = (f"  last run: {_fmt(run.started_at)}, {TRIGGERS.get(run.trigger, run.trigger)}"
            f" (as of {_fmt(run.as_of)}): {outcome}")
    if run.error:
        line += f" ({run.error})"
    return line + (f"; {what}" if what else "")


def format_listing(ctx: Services, now: datetime) -> str:
    """PHI-free table of jobs (shared with the ``/jobs`` chat command)."""
    nxt = next_runs(ctx, now)
    last = last_runs(ctx)
    lines = []
    for job in JOBS:
        at, stored = nxt[job]
        lines.append(f"{job}: {TITLES.get(job, JOBS[job])}")
        lines.append(f"  next run: {_fmt(at)}" + ("" if stored else " (bot not started yet)"))
        run = last.get(job)
        lines.append("  last run: never" if run is None else _last(run))
    return "\n".join(lines)
