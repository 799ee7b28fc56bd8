"""``medcrypt-bot jobs list`` and ``jobs run rotate|shred [--now ISO-8601]``.

``run`` is for cron deployments (run the bot without its scheduler), operators and time
travel in tests and the demo: ``--now`` sets the instant the job reasons about (which
month is current, whose grace has ended); audit entries and job records keep the real
time of the run. On a terminal a progress bar shows batches as they commit.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

from medcrypt.bot.domain.config import Settings
from medcrypt.bot.domain.lifecycle.names import ALIASES


def parse_instant(text: str) -> datetime:
    """ISO-8601 with an explicit offset ("Z" allowed); a naive time is ambiguous."""
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text!r}") from None
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError("give a UTC offset, e.g. 2027-01-01T00:00:00Z")
    return at.astimezone(UTC)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("jobs", help="scheduled jobs: list them, run one by hand")
    sub = p.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="next and last run of each job, with outcome")
    ls.set_defaults(handler=list_jobs)
    run = sub.add_parser("run", help="run a job now (cron, maintenance, time travel)")
    run.add_argument("job", choices=sorted(ALIASES))
    run.add_argument("--now", type=parse_instant, default=None, metavar="ISO-8601",
                     help="instant the job reasons about (default: the current time)")
    run.add_argument("--batch", type=int, default=None, metavar="N",
                     help="pairings (rotate) or epochs (shred) per transaction")
    run.set_defaults(handler=run_one)


def list_jobs(args: argparse.Namespace, settings: Settings) -> int:
    from medcrypt.bot.app.wiring import SystemClock, build_services
    from medcrypt.bot.scheduler.listing import format_listing

    ctx = build_services(settings, SystemClock())
    try:
        print(format_listing(ctx, ctx.clock.now()))
    finally:
        ctx.engine.dispose()
    return 0


class ProgressBar:
    """A one-line bar redrawn with ``\\r`` on a terminal, at most ten times a second."""

    WIDTH = 30

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream, self.label = stream, label
        self.enabled = stream.isatty()
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and done < total):
            return
        self._last = now
        filled = self.WIDTH if total <= 0 else min(self.WIDTH, self.WIDTH * done // total)
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
                          f"{done:,}/{total:,}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def run_one(args: argparse.Namespace, settings: Settings) -> int:
    from medcrypt.bot.app.wiring import SystemClock, build_services
    from medcrypt.bot.domain.lifecycle.runs import run_job
    from medcrypt.crypto.errors import MedCryptError

    ctx = build_services(settings, SystemClock())
    try:
        bar = ProgressBar(sys.stderr, args.job)
        try:
            outcome = run_job(ctx, args.job, trigger="manual", now=args.now,
                              progress=bar if bar.enabled else None, batch=args.batch)
        finally:
            bar.close()
        try:  # a short-lived writer signs its own tail, as the bot does when it stops
            ctx.audit.checkpoint_open_tail()
        except MedCryptError as exc:  # the job is done; the checkpointer signs it later
            print(f"audit checkpoint delayed ({type(exc).__name__}): the bot's "
                  "checkpointer signs these entries on its next pass", file=sys.stderr)
    finally:
        ctx.engine.dispose()
    counts = ", ".join(f"{k}={v}" for k, v in outcome.summary.items())
    print(f"{outcome.job}: {outcome.outcome}; {counts}")
    return 0
