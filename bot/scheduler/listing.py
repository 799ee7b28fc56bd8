"""A PHI-free text table of the jobs: next run, last run, trigger, outcome, counts.

Shared by ``medcrypt-bot jobs list`` and the admins' ``/jobs`` chat command, so both
show the same thing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from medcrypt.bot.domain.lifecycle.names import JOBS
from medcrypt.bot.domain.lifecycle.runs import last_runs
from medcrypt.bot.domain.services import Services
from medcrypt.bot.scheduler.runner import next_runs


def _fmt(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_listing(ctx: Services, now: datetime) -> str:
    """PHI-free table of jobs (shared with the ``/jobs`` chat command)."""
    nxt = next_runs(ctx, now)
    last = last_runs(ctx)
    lines = []
    for job, what in JOBS.items():
        at, stored = nxt[job]
        lines.append(f"{job}: {what}")
        lines.append(f"  next: {_fmt(at)}" + ("" if stored else " (bot not started yet)"))
        run = last.get(job)
        if run is None:
            lines.append("  last: never")
            continue
        counts = ", ".join(f"{k}={v}" for k, v in run.summary.items() if v not in (0, "none"))
        lines.append(f"  last: {_fmt(run.started_at)} ({run.trigger}, as of {_fmt(run.as_of)})"
                     f" -> {run.outcome}" + (f" [{run.error}]" if run.error else "")
                     + (f"; {counts}" if counts else ""))
    return "\n".join(lines)
