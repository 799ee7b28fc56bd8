"""Run a job by name and record its outcome in ``job_runs`` - the one entry point.

The scheduler, ``medcrypt-bot jobs run`` and the chat commands all come through
:func:`run_job`, so every run - scheduled, caught up at start-up, manual or from chat -
leaves a row with its trigger, outcome and PHI-free counts that ``/jobs`` and ``jobs
list`` show. A failed run records the exception class and re-raises.

Every run holds the job's lock (:mod:`storage.joblock`), so the scheduler, ``jobs run``
and ``/rotate_now`` never run one job twice at once; a second caller gets ``JobBusy``.
A scheduled or start-up run names its *slot* (the fire time it stands for): a slot that
completed is skipped (outcome ``skipped``, no row), and one whose run was killed
half-way is resumed in its own row - the work computes its target from the calendar and
skips what the killed run committed (issue 18, ADR 0032).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from medcrypt.bot.domain.lifecycle.ended import erase_ended_patients
from medcrypt.bot.domain.lifecycle.key_epochs import close_if_due
from medcrypt.bot.domain.lifecycle.names import ALIASES, JOBS
from medcrypt.bot.domain.lifecycle.rotation import BATCH as ROTATION_BATCH
from medcrypt.bot.domain.lifecycle.rotation import rotate
from medcrypt.bot.domain.lifecycle.shred import BATCH as SWEEP_BATCH
from medcrypt.bot.domain.lifecycle.shred import sweep
from medcrypt.bot.domain.services import Progress, Services
from medcrypt.storage.joblock import job_lock
from medcrypt.storage.repos import jobs as job_rows

log = structlog.get_logger("bot.jobs")


@dataclass(frozen=True)
class RunOutcome:
    job: str
    outcome: str
    summary: dict[str, Any]


def _begin(ctx: Services, job: str, trigger: str, as_of: datetime) -> int:
    with ctx.sessions.begin() as session:
        return job_rows.begin_run(session, job=job, trigger=trigger, as_of=as_of,
                                  started_at=ctx.clock.now())


def _finish(ctx: Services, run_id: int, outcome: str, summary: dict[str, Any],
            error: str | None) -> None:
    with ctx.sessions.begin() as session:
        job_rows.finish_run(session, run_id, outcome=outcome, finished_at=ctx.clock.now(),
                            summary=json.dumps(summary, sort_keys=True), error=error)


def _claim(ctx: Services, job: str, slot: datetime, trigger: str,
           as_of: datetime) -> tuple[int, bool] | None:
    with ctx.sessions.begin() as session:
        return job_rows.claim_slot(session, job=job, slot=slot, trigger=trigger, as_of=as_of,
                                   started_at=ctx.clock.now())


def run_job(
    ctx: Services, job: str, *, trigger: str, now: datetime | None = None,
    progress: Progress | None = None, batch: int | None = None,
    slot: datetime | None = None, force: bool = False,
) -> RunOutcome:
    """Run ``job`` ("rotation"/"rotate", "shred_sweep"/"shred" or "key_epoch") as of
    ``now``; with ``slot``, only if that slot has not completed (see module).
    ``force``: close the key epoch even when it is not due (``keys close-epoch``)."""
    name = ALIASES.get(job)
    if name is None:
        raise ValueError(f"unknown job {job!r}; known: {', '.join(JOBS)}")
    as_of = now if now is not None else ctx.clock.now()
    work: Callable[[], dict[str, Any]]
    if name == "rotation":
        def work() -> dict[str, Any]:
            return dict(rotate(ctx, as_of, progress=progress,
                               batch=batch or ROTATION_BATCH).summary())
    elif name == "key_epoch":
        def work() -> dict[str, Any]:
            return close_if_due(ctx, as_of, force=force, progress=progress, batch=batch)
    else:
        def work() -> dict[str, Any]:
            done: dict[str, Any] = dict(sweep(ctx, as_of, progress=progress,
                                              batch=batch or SWEEP_BATCH).summary())
            ended = erase_ended_patients(ctx, as_of)
            done["erased_patients"] = ended["erased_patients"]
            return done
    with job_lock(ctx.engine, name):
        if slot is None:
            run_id = _begin(ctx, name, trigger, as_of)
        else:
            claimed = _claim(ctx, name, slot, trigger, as_of)
            if claimed is None:
                return RunOutcome(name, "skipped", {})
            run_id, resumed = claimed
            if resumed:
                log.info("job_resumed", job=name, trigger=trigger)
        try:
            summary = work()
        except BaseException as exc:
            _finish(ctx, run_id, "failed", {}, type(exc).__name__)
            ctx.events.job_finished(name, trigger, "failed")
            raise
        _finish(ctx, run_id, "ok", summary, None)
    ctx.events.job_finished(name, trigger, "ok")
    return RunOutcome(name, "ok", summary)


@dataclass(frozen=True)
class LastRun:
    job: str
    trigger: str
    as_of: datetime
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    summary: dict[str, Any]
    error: str | None


def last_runs(ctx: Services) -> dict[str, LastRun]:
    """The most recent run of each job (by start time)."""
    out: dict[str, LastRun] = {}
    with ctx.sessions() as session:
        for job in JOBS:
            run = job_rows.last_run(session, job)
            if run is not None:
                out[job] = LastRun(run.job, run.trigger, run.as_of, run.started_at,
                                   run.finished_at, run.outcome, json.loads(run.summary),
                                   run.error)
    return out
